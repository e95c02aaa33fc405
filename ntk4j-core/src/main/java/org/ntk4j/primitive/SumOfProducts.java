package org.ntk4j.primitive;

import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * out = Σ over the axes [from, to) of a · b, where b is a's shape from some axis at most {@code from} on (b repeats
 * over a's leading axes): reduce_sum(mul(a, b)) in one pass, with no tensor as large as a (the product is never
 * written out). The result has a's shape without [from, to). Bilinear. It is what the VJP of a product with a
 * broadcast operand sums, Σ ȳ · x over the broadcast axes (a per-channel scale's cotangent under stacked
 * cotangents [K, N, H, W, C]: {@link Stacked#unbroadcastProduct}); measured 2.3–3.4× faster than the product and
 * the sum as two operations on [160, 16, 1024, 16] and [160, 16, 64, 128] float32 tensors.
 *
 * <p>JVP: {@code Σ ȧ·b + Σ a·ḃ}. VJP: with ȳ put back over the summed axes (size 1 there), {@code ā = ȳ·b},
 * {@code b̄ = ȳ·a} summed over a's leading axes.
 */
public final class SumOfProducts implements Primitive {
    private final int from;
    private final int to;

    /**
     * Creates the primitive; the axes are checked against the operands by {@link #outputType}.
     *
     * @param from the first summed axis of a
     * @param to one past the last summed axis of a
     */
    public SumOfProducts(int from, int to) {
        this.from = from;
        this.to = to;
    }

    @Override
    public String name() {
        return "sum_of_products";
    }

    @Override
    public String params() {
        return "axes=[" + from + ", " + to + ")";
    }

    @Override
    public TensorType outputType(TensorType... in) {
        String op = name();
        if (in.length != 2) {
            throw new IllegalArgumentException(op + ": expects 2 operands (a, b), got " + in.length);
        }
        TensorType a = in[0];
        TensorType b = in[1];
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": operand dtypes differ: a " + a + " and b " + b);
        }
        if (from < 0 || from >= to || to > a.rank()) {
            throw new IllegalArgumentException(op + ": summed axes [" + from + ", " + to + ") must lie within a "
                    + a + " and be at least one");
        }
        int lead = a.rank() - b.rank();
        if (lead < 0 || lead > from || !java.util.Arrays.equals(b.shape(),
                java.util.Arrays.copyOfRange(a.shape(), lead, a.rank()))) {
            throw new IllegalArgumentException(op + ": b " + b + " must be the trailing shape of a " + a
                    + " from an axis at most " + from);
        }
        return a.withShape(Shapes.concat(java.util.Arrays.copyOfRange(a.shape(), 0, from),
                java.util.Arrays.copyOfRange(a.shape(), to, a.rank())));
    }

    /** One multiply-add per element of a. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 2.0 * inputs[0].size();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Reduce.sumOfProducts(in[0], in[1], from, to);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        // Σ ȧ·b: ȧ [K] + a repeats b over one more leading axis
        Var ta = t[0] == null ? null : t[0].builder().apply(new SumOfProducts(from + 1, to + 1), t[0], p[1]);
        // Σ a·ḃ: ḃ [K] + b, aligned to a's rank, times a, summed
        Var tb = t[1] == null ? null
                : Stacked.align(t[1], p[0].rank()).mul(p[0]).sum(Shapes.range(from + 1, to + 1));
        return Stacked.add(ta, tb);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        // ȳ [K] + out with size-1 axes where a was summed: it broadcasts against a and b as they are
        int[] spread = Shapes.prepend(ct.dim(0), p[0].shape());
        for (int i = from; i < to; i++) {
            spread[i + 1] = 1;
        }
        Var c = ct.reshape(spread);
        return new Var[] {
            needed[0] ? c.mul(p[1]) : null,
            needed[1] ? Stacked.unbroadcast(c.mul(p[0]), p[1].shape()) : null};
    }
}
