"""int8 quantization: fixed-point arithmetic, calibration, quantization parameters and the
lowering of Quantize/Dequantize graphs to integer kernels (see `tinyc.quant.lower`)."""
