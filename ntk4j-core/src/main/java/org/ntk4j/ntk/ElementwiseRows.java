package org.ntk4j.ntk;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Per-example Jacobian rows of the broadcasting consumers — add/sub (biases) and mul (scales) — for all
 * examples at once, from the structure of ∂y/∂p': the identity (add), its negative (sub) or the diagonal
 * of the other operand (mul), tiled along the axes over which p' is broadcast. So
 * rows[o, n] = Σ_{broadcast axes} δ[o, n] (add), -δ (sub on the right), δ ⊙ a[n] (mul), with the example
 * axis kept instead of summed.
 */
final class ElementwiseRows {
    private ElementwiseRows() {
    }

    /** The rows [O, N] + shape(p') of a broadcast consumer, or null when the consumer is of another kind. */
    static Tensor rows(PerExamplePass pass, ParameterConsumers.Consumer c) {
        ConsumerRule.Broadcast rule = c.broadcast();
        if (rule == null) {
            return null;
        }
        int[] summedAxes = summedAxes(c);
        Var other = c.dataValue();
        boolean mul = rule.timesOther();
        double sign = rule.sign();
        int[] ps = c.parameterValue().shape();
        Tensor delta = pass.delta(c); // [O, N, ...]
        org.ntk4j.graph.FlopCount.add(rule.rowFlops(pass.o, c.equation.output().type()));
        Tensor fused = fusedRows(delta, mul ? pass.operand(other) : null, mul, sign, summedAxes);
        if (fused != null) {
            return fused.reshapeMove(Shapes.concat(new int[] {pass.o, pass.n}, ps));
        }
        Tensor r;
        if (mul) {
            r = Elementwise.binary(Elementwise.BinaryOp.MUL, delta, pass.operand(other));
        } else if (sign != 1) {
            r = org.ntk4j.cpu.Elementwise.map(delta, v -> sign * v);
        } else {
            r = null;
        }
        Tensor source = r != null ? r : delta;
        Tensor reduced = summedAxes.length == 0 ? (r != null ? r : delta.copy())
                : Reduce.reduce(Reduce.Kind.SUM, source, summedAxes);
        if (r != null && reduced != r) {
            r.close();
        }
        return reduced.reshapeMove(Shapes.concat(new int[] {pass.o, pass.n}, ps));
    }

    /**
     * The rows Σ over contiguous summed axes of δ (times the other operand for a product, times the sign for a
     * difference) in one pass, with no tensor as large as δ ({@link Reduce#sumOfProducts}); null when the axes
     * are not one contiguous run or the other operand does not broadcast over δ's leading axes alone (the
     * general path then forms the product and reduces it).
     */
    private static Tensor fusedRows(Tensor delta, Tensor other, boolean mul, double sign, int[] summedAxes) {
        if (summedAxes.length == 0) {
            return null;
        }
        int from = summedAxes[0];
        for (int i = 1; i < summedAxes.length; i++) {
            if (summedAxes[i] != from + i) {
                return null;
            }
        }
        int to = from + summedAxes.length;
        if (mul) {
            return Reduce.broadcastsOverLeading(delta, other, from) ? Reduce.sumOfProducts(delta, other, from, to)
                    : null;
        }
        Tensor sum = Reduce.sumOfProducts(delta, null, from, to);
        if (sign == 1) {
            return sum;
        }
        try (Tensor s = sum) {
            return Elementwise.map(s, v -> sign * v);
        }
    }

    /**
     * Elements beyond the rows themselves that {@link #rows} holds while it forms an add/sub/mul consumer's rows at
     * O = o cotangents (for the memory model): where the summed axes are one run and the other operand of a product
     * broadcasts over δ's leading axes alone, the one-pass sums (and, for a difference, their negated copy); else
     * the product or negation as large as δ [O, N, ...] and the copy the reduction makes to move the summed axes
     * last ({@link Reduce#scratchElements}).
     */
    static long scratchElements(ParameterConsumers.Consumer c, int o) {
        ConsumerRule.Broadcast rule = c.broadcast();
        if (rule == null) {
            return 0;
        }
        int[] delta = Shapes.prepend(o, c.equation.output().type().shape());
        long rows = (long) o * c.parameterValue().size();
        int[] summed = summedAxes(c);
        boolean mul = rule.timesOther();
        boolean negated = rule.sign() != 1;
        boolean run = summed.length > 0;
        for (int i = 1; i < summed.length; i++) {
            run &= summed[i] == summed[0] + i;
        }
        if (run) {
            if (!mul) {
                return negated ? rows : 0;
            }
            int[] other = c.dataValue().type().shape();
            int lead = delta.length - other.length;
            if (lead >= 0 && lead <= summed[0] && java.util.Arrays.equals(other,
                    java.util.Arrays.copyOfRange(delta, lead, delta.length))) {
                return 0;
            }
        }
        long product = mul || negated ? Shapes.size(delta) : 0;
        return product + (summed.length == 0 ? 0 : Reduce.scratchElements(delta, summed));
    }

    /** FLOPs of {@link #rows} for an add/sub/mul consumer at O cotangents: the consumer rule's own count. */
    static double rowFlops(ParameterConsumers.Consumer c, int o) {
        return c.broadcast().rowFlops(o, c.equation.output().type());
    }

    /**
     * For an add/sub/mul consumer: the axes of δ [O, N, ...] summed to give its rows (the rule's broadcast axes
     * of y, behind the stacked axis).
     */
    static int[] summedAxes(ParameterConsumers.Consumer c) {
        int[] axes = c.broadcast().broadcastAxes();
        for (int i = 0; i < axes.length; i++) {
            axes[i]++;
        }
        return axes;
    }
}
