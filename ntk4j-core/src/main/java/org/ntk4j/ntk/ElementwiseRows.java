package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.Add;
import org.ntk4j.primitive.Mul;
import org.ntk4j.primitive.Sub;
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

    /**
     * Rows of a dot_general or conv consumer whose parameter is laid out [contracted axes..., output features...]
     * (a dense weight [fan_in, out], an HWIO filter): J[n, c, o, f] = Σ_r A[n, r, c] D[o, n, r, f] as one
     * batched GEMM over the examples, then moved to [O, N] + shape(p'). Null for other consumers.
     */
    static Tensor linearRows(PerExamplePass pass, ParameterConsumers.Consumer c) {
        if (!StructuredDerivatives.hasRule(c)) {
            return null;
        }
        Equation e = c.equation;
        if (e.primitive() instanceof org.ntk4j.primitive.DotGeneral) {
            org.ntk4j.primitive.DotGeneral d = (org.ntk4j.primitive.DotGeneral) e.primitive();
            int[] pc = c.operand == 1 ? d.rhsContract() : d.lhsContract();
            if (c.operand != 1) {
                return null;
            }
            for (int i = 0; i < pc.length; i++) {
                if (pc[i] != i) {
                    return null; // the parameter's contracted axes are not leading and in pair order
                }
            }
        }
        try (Tensor a = StructuredDerivatives.data(pass, c); Tensor dd = StructuredDerivatives.cotangent(pass, c);
             Tensor j = org.ntk4j.cpu.DotGeneralKernel.dot(a, dd, new int[] {1}, new int[] {2}, new int[] {0},
                     new int[] {1})) { // [N, C, O, F]
            Tensor t = org.ntk4j.cpu.Layout.transpose(j, new int[] {2, 0, 1, 3}); // [O, N, C, F]
            return t.reshapeMove(Shapes.concat(new int[] {pass.o, pass.n}, c.parameterValue().shape()));
        }
    }

    /** The rows [O, N] + shape(p'), or null when the consumer is of another kind. */
    static Tensor rows(PerExamplePass pass, ParameterConsumers.Consumer c) {
        Tensor linear = linearRows(pass, c);
        if (linear != null) {
            return linear;
        }
        int[] summedAxes = summedAxes(pass.pc, c);
        if (summedAxes == null) {
            return null;
        }
        Equation e = c.equation;
        boolean sub = e.primitive() instanceof Sub;
        boolean mul = e.primitive() instanceof Mul;
        Var other = e.input(1 - c.operand);
        int[] ps = c.parameterValue().shape();
        Tensor delta = pass.delta(c); // [O, N, ...]
        Tensor r;
        if (mul) {
            r = Elementwise.binary(Elementwise.BinaryOp.MUL, delta, pass.operand(other));
        } else if (sub && c.operand == 1) {
            r = org.ntk4j.cpu.Elementwise.map(delta, v -> -v);
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
     * FLOPs of {@link #rows} for an add/sub/mul consumer at O cotangents: one per element of δ [O] + shape(y)
     * for the product with the other operand (mul) or the negation (sub, right operand), and one per element
     * summed when p' is broadcast.
     */
    static double rowFlops(ParameterConsumers pc, ParameterConsumers.Consumer c, int o) {
        double delta = (double) o * c.equation.output().size();
        double flops = 0;
        if (c.equation.primitive() instanceof Mul || (c.equation.primitive() instanceof Sub && c.operand == 1)) {
            flops += delta;
        }
        if (summedAxes(pc, c).length > 0) {
            flops += delta;
        }
        return flops;
    }

    /**
     * For an add/sub/mul consumer: the axes of δ [O, N, ...] summed to give its rows (those over which p' is
     * broadcast, except the example axis); null when the consumer is of another kind or p' is broadcast over
     * the example axis in a way this rule does not cover.
     */
    static int[] summedAxes(ParameterConsumers pc, ParameterConsumers.Consumer c) {
        Equation e = c.equation;
        if (!(e.primitive() instanceof Add) && !(e.primitive() instanceof Sub) && !(e.primitive() instanceof Mul)) {
            return null;
        }
        Var y = e.output();
        Var other = e.input(1 - c.operand);
        if (other.rank() != y.rank() && !pc.graph.constants().containsKey(other)) {
            return null;
        }
        int[] ps = c.parameterValue().shape();
        int[] ys = y.shape();
        List<Integer> summed = new ArrayList<>();
        long kept = ys.length == 0 ? 1 : ys[0];
        int lead = ys.length - ps.length;
        for (int a = 1; a < ys.length; a++) {
            int j = a - lead;
            if (j < 0 || (ps[j] == 1 && ys[a] != 1)) {
                summed.add(a + 1);
            } else {
                kept *= ys[a];
            }
        }
        if (ys.length == 0 || kept != (long) ys[0] * Shapes.size(ps)) {
            return null;
        }
        return summed.stream().mapToInt(Integer::intValue).toArray();
    }
}
