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

    /** Tensors by name, in the map's order: a model's parameters, or its buffers. */
    static Map<String, TensorData> of(Map<String, Tensor> tensors) {
        Map<String, TensorData> m = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            m.put(e.getKey(), of(e.getValue()));
        }
        return m;
    }

    /** The bytes of the tensors that {@link #toTensor} makes of each of {@code data} (a task's copy). */
    static long bytes(Map<String, TensorData> data) {
        long bytes = 0;
        for (TensorData d : data.values()) {
            bytes += d.floats != null ? 4L * d.floats.length : 8L * d.doubles.length;
        }
        return bytes;
    }

    /**
     * The bytes of a task's copy of the parameters and buffers ({@link #toParams}) that the plan's predicted peak
     * does not count: its buffers. The parameters are counted there already (CostModel counts them in every block's
     * peak, as a local run holds the caller's one copy), and in a cluster's task that copy is the task's own.
     *
     * @param params the parameters a task copies (counted by the plan: not added)
     * @param buffers the buffers a task copies
     * @return bytes
     */
    static long uncountedCopyBytes(Map<String, TensorData> params, Map<String, TensorData> buffers) {
        return bytes(buffers);
    }

    /** New parameters with their buffers from {@link #of(Map)} of each (the caller closes them). */
    static Params toParams(Map<String, TensorData> params, Map<String, TensorData> buffers) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        Map<String, Tensor> b = new LinkedHashMap<>();
        try {
            toTensors(params, m);
            toTensors(buffers, b);
        } catch (RuntimeException | Error e) {
            m.values().forEach(Tensor::close);
            b.values().forEach(Tensor::close);
            throw e;
        }
        return new Params(m, b);
    }

    private static void toTensors(Map<String, TensorData> data, Map<String, Tensor> into) {
        for (Map.Entry<String, TensorData> e : data.entrySet()) {
            into.put(e.getKey(), e.getValue().toTensor());
        }
    }
}
