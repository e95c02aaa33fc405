package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Small helpers the kernel strategies share: basis cotangents, argument lists, closing, accumulation. */
final class KernelSupport {
    private KernelSupport() {
    }

    /** [to - from] + shape with one-hot rows: row i is e_{from + i} of the flattened shape. */
    static Tensor basisRows(DType dt, int from, int to, int[] shape) {
        if (from == 0 && to == Shapes.size(shape)) {
            return identity(dt, to, shape);
        }
        int size = Shapes.size(shape);
        Tensor t = Tensor.zeros(dt, Shapes.prepend(to - from, shape));
        for (int i = 0; i < to - from; i++) {
            t.setFlat((int) ((long) i * size + from + i), 1.0);
        }
        return t;
    }

    /** [K] + shape with one-hot rows: row k is e_k of the flattened shape. */
    static Tensor identity(DType dt, int k, int[] shape) {
        Tensor t = Tensor.zeros(dt, Shapes.prepend(k, shape));
        for (int i = 0; i < k; i++) {
            t.setFlat((long) i * k + i > Integer.MAX_VALUE ? fail(k) : i * k + i, 1.0);
        }
        return t;
    }

    static int fail(int k) {
        throw new IllegalArgumentException("kernel: " + k + " basis vectors of size " + k
                + " exceed 2^31 elements; tile the computation");
    }

    static void closeAll(Tensor[] ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    static int[] rangeFrom(int from, int to) {
        int[] r = new int[Math.max(0, to - from)];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** acc += b, elementwise (same shapes). */
    static void addInto(Tensor acc, Tensor b) {
        Elementwise.addScaledInPlace(acc, 1.0, b);
    }

    /**
     * The parameters in the graph's input order, as parameter views ({@link Tensor#parameterView()}): the kernels
     * take their buffers without marking the parameters' storage as handed out, so parameters checked once stay
     * known finite (Params.validate) until written, and may keep copies of them in other layouts (the transposed
     * weights of {@code Blas}) with the parameters.
     */
    static Tensor[] paramArgs(Params params, List<ParamSpec> specs) {
        Tensor[] r = new Tensor[specs.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = params.get(specs.get(i).path()).parameterView();
        }
        return r;
    }

    static Tensor[] with(Tensor[] a, Tensor... more) {
        Tensor[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    static void checkFinite(String name, Tensor t) {
        org.ntk4j.cpu.Reduce.requireFinite(name, t);
    }

    /**
     * Refuses a computed kernel (or block) that holds NaN or ±∞. The inputs and parameters were checked finite
     * before, so such a value means the network's outputs or their derivatives are not finite at these inputs: an
     * overflow of the dtype (inputs of 1e20 through a float32 network, act=exp at pre-activations beyond 709 in
     * float64 and 88 in float32), or an operation outside its domain (the log
     * of a negative number in an imported model). Returned silently, it would be written to a kernel file as if it
     * were a result.
     */
    static Tensor requireFiniteResult(Tensor k) {
        return requireFiniteResult("kernel", k);
    }

    /** As {@link #requireFiniteResult(Tensor)}, the message starting with {@code what} (nngp, ntk_vector_product). */
    static Tensor requireFiniteResult(String what, Tensor k) {
        int bad = k.firstNonFinite();
        if (bad >= 0) {
            throw new NonFiniteKernelException(what + ": the result holds " + k.getFlat(bad) + " (at flat index "
                    + bad + " of " + Shapes.str(k.shape()) + ") although the inputs and parameters are finite: the "
                    + "network's outputs or their derivatives are not finite at these inputs (an overflow of "
                    + k.dtype().shortName() + ", such as exp of a large pre-activation, or an operation outside its "
                    + "domain, such as the log of a negative number); " + (k.dtype() == DType.F32
                    ? "compute in float64, or scale the inputs" : "scale the inputs")); // float64: no wider type
        }
        return k;
    }

    /** The problem size (n1, n2, 1 when x2 = x1) of inputs of n1 and n2 examples (n2 = 0: x2 = x1). */
    static long[] problemOf(int n1, int n2) {
        return new long[] {n1, n2 == 0 ? n1 : n2, n2 == 0 ? 1 : 0};
    }
}
