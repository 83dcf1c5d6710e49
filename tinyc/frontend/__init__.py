"""Frontends: ONNX files and text IR into the tinyc IR."""
