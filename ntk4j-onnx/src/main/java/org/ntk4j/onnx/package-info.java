/**
 * ONNX import: {@link org.ntk4j.onnx.OnnxModel} reads an ONNX file (protobuf, with its weights inline or in
 * external data files) and turns its graph into an ntk4j {@link org.ntk4j.nn.Model} whose parameters are the
 * file's floating-point weight initializers, so that every kernel method and kind works on a network exported from
 * PyTorch, Keras or JAX at its stored weights. See docs/onnx.md.
 */
package org.ntk4j.onnx;
