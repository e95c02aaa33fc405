package org.ntk4j.spark;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A tensor's dtype, shape and values on the Java heap, to ship to executors (tensors live off-heap and are not
 * serialisable). The values are copied exactly, float32 as float32: an executor's tensor has the driver's bits.
 */
final class TensorData implements Serializable {
    private static final long serialVersionUID = 1L;
    private final DType dtype;
    private final int[] shape;
    private final float[] floats;
    private final double[] doubles;

    private TensorData(Tensor t) {
        this.dtype = t.dtype();
        this.shape = t.shape();
        this.floats = dtype == DType.F32 ? t.toFloatArray() : null;
        this.doubles = dtype == DType.F32 ? null : t.toDoubleArray();
    }

    /** A copy of {@code t}; null for null. */
    static TensorData of(Tensor t) {
        return t == null ? null : new TensorData(t);
    }

    /** A new tensor with these values (the caller closes it). */
    Tensor toTensor() {
        return floats != null ? Tensor.of(floats, shape) : Tensor.of(doubles, shape);
    }

    /** Parameters by name, in the model's order. */
    static Map<String, TensorData> of(Params params) {
        Map<String, TensorData> m = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
            m.put(e.getKey(), of(e.getValue()));
        }
        return m;
    }

    /** New parameters from {@link #of(Params)} (the caller closes them). */
    static Params toParams(Map<String, TensorData> data) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, TensorData> e : data.entrySet()) {
                m.put(e.getKey(), e.getValue().toTensor());
            }
        } catch (RuntimeException | Error e) {
            m.values().forEach(Tensor::close);
            throw e;
        }
        return new Params(m);
    }
}
