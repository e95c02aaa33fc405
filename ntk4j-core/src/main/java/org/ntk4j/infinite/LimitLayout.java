package org.ntk4j.infinite;

import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Lays out an infinite-width limit, which is diagonal in the logits (K ⊗ I_O, Θ ⊗ I_O), as the empirical kernel of a
 * {@link KernelKind} (the layouts of {@link InfiniteLimit#kernel}), writing each pair's value straight into the
 * result, and refuses a result that overflows its dtype.
 */
final class LimitLayout {
    /** Receives the kernels {K, Θ} of one pair of examples (i of x1, j of x2). */
    interface PairSink {
        void accept(int i, int j, double[] kt);
    }

    /** Gives every pair's {K, Θ} to a sink (each (i, j) once). */
    interface PairSource {
        void eachPair(PairSink sink);
    }

    private LimitLayout() {
    }

    /** Refuses NaN or ±∞ in x1 or x2 and examples of x2 with another number of values than x1's. */
    static void requireInputs(Tensor x1, Tensor x2) {
        org.ntk4j.cpu.Reduce.requireFinite("x1", x1);
        if (x2 != null) {
            org.ntk4j.cpu.Reduce.requireFinite("x2", x2);
            int d1 = Shapes.size(Shapes.dropFirst(x1.shape()));
            int d2 = Shapes.size(Shapes.dropFirst(x2.shape()));
            if (d1 != d2) {
                throw new IllegalArgumentException("shape mismatch: x2 examples " + Shapes.str(Shapes.dropFirst(
                        x2.shape())) + " have " + d2 + " features, x1 examples " + Shapes.str(Shapes.dropFirst(
                        x1.shape())) + " " + d1);
            }
        }
    }

    /**
     * The kernel of {@code kind} for n1 × n2 pairs and {@code out} logits from the pairs' {K, Θ}.
     *
     * @param kind the layout
     * @param out number of logits O
     * @param n1 examples of x1
     * @param n2 examples of x2
     * @param nngp lay out K instead of Θ
     * @param dtype element type of the result
     * @param pairs the pairs' kernels
     * @return the kernel, which the caller closes
     */
    static Tensor layOut(KernelKind kind, int out, int n1, int n2, boolean nngp, DType dtype, PairSource pairs) {
        // the N×N kinds' factor on Θ; refuses projected:K and logit:K out of range before any work
        double scale = kind.isFull() || kind.isPerOutput() ? 1 : kind.scaleOfSharedKernel(out);
        int kernelIndex = nngp ? 0 : 1; // in {K, Θ}
        Tensor r = kind.isFull() ? Tensor.zeros(dtype, n1, n2, out, out)
                : kind.isPerOutput() ? Tensor.empty(dtype, n1, n2, out) : Tensor.empty(dtype, n1, n2);
        try {
            pairs.eachPair((i, j, kt) -> {
                double v = kt[kernelIndex];
                if (kind.isFull()) {
                    for (int o = 0; o < out; o++) {
                        r.set(v, i, j, o, o);
                    }
                } else if (kind.isPerOutput()) {
                    for (int o = 0; o < out; o++) {
                        r.set(v, i, j, o);
                    }
                } else {
                    r.set(scale * v, i, j);
                }
            });
            int bad = r.firstNonFinite();
            if (bad >= 0) {
                throw new org.ntk4j.ntk.NonFiniteKernelException("infinite-width limit: the " + (nngp ? "NNGP" : "NTK")
                        + " holds " + r.getFlat(bad) + " (at flat index " + bad + " of " + Shapes.str(r.shape())
                        + "): it overflows " + dtype.shortName() + " at these inputs (it grows with |x|² and with σ_w² "
                        + "per layer); " + (dtype == DType.F64 ? "" : "compute in float64, or ") + "scale the inputs");
            }
            return r;
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }
}
