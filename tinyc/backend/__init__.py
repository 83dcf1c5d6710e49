"""C backend: turns the IR and its arena plan into standalone C99 files."""
