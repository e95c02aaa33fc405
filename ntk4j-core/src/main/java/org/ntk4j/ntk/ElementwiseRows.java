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
        Equation e = c.equation;
        boolean add = e.primitive() instanceof Add;
        boolean sub = e.primitive() instanceof Sub;
        boolean mul = e.primitive() instanceof Mul;
        if (!add && !sub && !mul) {
            return null;
        }
        Var y = e.output();
        Var other = e.input(1 - c.operand);
        if (other.rank() != y.rank() && !pass.pc.graph.constants().containsKey(other)) {
            return null;
        }
        int[] ps = c.parameterValue().shape();
        int[] ys = y.shape();
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
        // axes of δ (shifted by the O axis) over which p' is broadcast, except the example axis
        List<Integer> summed = new ArrayList<>();
        int lead = ys.length - ps.length;
        for (int a = 1; a < ys.length; a++) {
            int j = a - lead;
            if (j < 0 || (ps[j] == 1 && ys[a] != 1)) {
                summed.add(a + 1);
            }
        }
        Tensor reduced = summed.isEmpty() ? (r != null ? r : delta.copy())
                : Reduce.reduce(Reduce.Kind.SUM, source, summed.stream().mapToInt(Integer::intValue).toArray());
        if (r != null && reduced != r) {
            r.close();
        }
        int[] target = Shapes.concat(new int[] {pass.o, pass.n}, ps);
        if (Shapes.size(target) != reduced.size()) {
            reduced.close();
            return null; // p' is broadcast over the example axis in a way this rule does not cover
        }
        return reduced.reshapeMove(target);
    }
}
