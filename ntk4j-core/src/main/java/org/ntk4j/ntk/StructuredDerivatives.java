package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Layout;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.Conv;
import org.ntk4j.primitive.DotGeneral;
import org.ntk4j.primitive.Mul;
import org.ntk4j.primitive.Neg;
import org.ntk4j.primitive.Reshape;
import org.ntk4j.primitive.Transpose;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives (Novak et al. 2022, §4): Θ = Σ_θ Σ δ1 (∂y/∂θ)(∂y/∂θ)ᵀ δ2ᵀ evaluated from the
 * cotangents δ = ∂f/∂y at each parameter's consumer and the structure of ∂y/∂θ, without forming ∂f/∂θ.
 *
 * <p>For a consumer that is linear in its parameter with a constant-block-diagonal Jacobian over the
 * parameter's output axes (dot_general with the parameter on either side, the filter of a convolution), the
 * per-example Jacobian row is J[o, n] = Σ_r A[n, r, ·] ⊗ D[o, n, r, ·], where A holds the data operand (the
 * layer input for dense, the im2col patches for conv: C = fan-in) over the R positions that share the
 * parameter (tokens, pixels) and D the cotangent over the parameter's F output features. The
 * matrix-Jacobian-Jacobian-matrix product then has two evaluation orders, chosen by their exact FLOP count:
 * <ul>
 *   <li>Gram order: Σ_{r1,r2} ⟨A1[n1,r1], A2[n2,r2]⟩ · ⟨D1[·,n1,r1], D2[·,n2,r2]⟩,
 *       2·N1N2R²·(C + O²F) for the full kernel (for dense, R = 1: ⟨a1, a2⟩·δ1δ2ᵀ);</li>
 *   <li>sandwich order: K = A1·A2ᵀ (2·N1N2R²C), then D1·K over r1 (2·N1N2·O·F·R²), then ·D2 over (r2, f)
 *       (2·N1N2·O²·R·F): the reference's N²O²·(D²FW/O² + D²W/O + DW) for convolutions;</li>
 *   <li>row order: form the rows (2·N·O·R·C·F), then contract them (2·N1N2·O²·C·F), as Jacobian
 *       contraction would.</li>
 * </ul>
 * Parameters reached through a scale, sign, reshape or transpose keep this (the factor enters squared);
 * any other parameter, and any consumer without a structure rule, goes through the dense fallback: its
 * per-example rows are formed and contracted.
 */
final class StructuredDerivatives {
    /** The structured form of one parameter: data A [N, R, C], cotangent D [O, N, R, F], and the scale². */
    static final class Structured {
        final ParameterConsumers.Consumer consumer;
        final double scaleSquared;

        Structured(ParameterConsumers.Consumer consumer, double scaleSquared) {
            this.consumer = consumer;
            this.scaleSquared = scaleSquared;
        }
    }

    private StructuredDerivatives() {
    }

    /**
     * How parameter {@code p} enters the network: structured (one consumer with a rule, reached through a
     * scaled permutation) or null for the dense fallback.
     */
    static Structured classify(ParameterConsumers pc, int p) {
        Var theta = pc.params.get(p);
        List<ParameterConsumers.Consumer> mine = new ArrayList<>();
        for (ParameterConsumers.Consumer c : pc.consumers) {
            if (pc.reaches(theta, c.parameterValue())) {
                mine.add(c);
            }
        }
        if (mine.size() != 1 || !hasRule(mine.get(0))) {
            return null;
        }
        Double scale = pathScale(pc, theta, mine.get(0).parameterValue());
        return scale == null ? null : new Structured(mine.get(0), scale * scale);
    }

    /** True when the consumer has a structure rule: dot_general without batch axes, or a conv filter. */
    static boolean hasRule(ParameterConsumers.Consumer c) {
        Equation e = c.equation;
        if (e.primitive() instanceof DotGeneral) {
            DotGeneral d = (DotGeneral) e.primitive();
            int dataSide = 1 - c.operand;
            int[] dataContract = dataSide == 0 ? d.lhsContract() : d.rhsContract();
            return d.logicalLayout() && d.lhsBatch().length == 0 && !Shapes.contains(dataContract, 0)
                    && (dataSide == 0 || d.lhsFree(e.input(0).rank()).length == 0);
        }
        return e.primitive() instanceof Conv && c.operand == 1;
    }

    /**
     * The factor s with p' = s·P(θ) for a permutation P, when the parameter-only path from θ to p' consists of
     * multiplications by scalar constants, negations, reshapes and transposes; null otherwise.
     */
    static Double pathScale(ParameterConsumers pc, Var theta, Var pv) {
        Map<Var, Equation> producer = new IdentityHashMap<>();
        for (Equation e : pc.graph.equations()) {
            producer.put(e.output(), e);
        }
        double s = 1;
        Var v = pv;
        while (v != theta) {
            Equation e = producer.get(v);
            if (e == null) {
                return null;
            }
            if (e.primitive() instanceof Reshape || e.primitive() instanceof Transpose) {
                v = e.input(0);
            } else if (e.primitive() instanceof Neg) {
                s = -s;
                v = e.input(0);
            } else if (e.primitive() instanceof Mul) {
                Tensor c0 = pc.graph.constants().get(e.input(0));
                Tensor c1 = pc.graph.constants().get(e.input(1));
                if (c1 != null && c1.size() == 1 && c0 == null) {
                    s *= c1.getFlat(0);
                    v = e.input(0);
                } else if (c0 != null && c0.size() == 1 && c1 == null) {
                    s *= c0.getFlat(0);
                    v = e.input(1);
                } else {
                    return null;
                }
            } else {
                return null;
            }
        }
        return s;
    }

    /** The data operand as A [N, R, C]. The caller closes the result. */
    static Tensor data(PerExamplePass pass, ParameterConsumers.Consumer c) {
        Equation e = c.equation;
        int n = pass.n;
        if (e.primitive() instanceof Conv) {
            Conv conv = (Conv) e.primitive();
            Tensor x = pass.operand(e.input(0));
            int[] ws = e.input(1).shape();
            int[] kernel = java.util.Arrays.copyOfRange(ws, 0, ws.length - 2);
            int[] xs = x.shape();
            int[] spatial = java.util.Arrays.copyOfRange(xs, 1, xs.length - 1);
            Convolution.Geometry g = Convolution.Geometry.of(conv.window(), n, spatial, xs[xs.length - 1], kernel,
                    ws[ws.length - 1]);
            int positions = g.outputPositions();
            int row = g.rowLength();
            Tensor cols = Tensor.empty(x.dtype(), n * positions, row);
            Convolution.im2col(x, g, 0, n, cols);
            return cols.reshapeMove(n, positions, row);
        }
        DotGeneral d = (DotGeneral) e.primitive();
        int dataSide = 1 - c.operand;
        Tensor a = pass.operand(e.input(dataSide));
        int[] contract = dataSide == 0 ? d.lhsContract() : d.rhsContract();
        int[] free = dataSide == 0 ? d.lhsFree(a.rank()) : d.rhsFree(a.rank());
        Tensor t = Layout.transpose(a, Shapes.concat(free, contract));
        int cSize = 1;
        for (int ax : contract) {
            cSize *= a.dim(ax);
        }
        return t.reshapeMove(n, t.size() / (n * Math.max(1, cSize)), cSize);
    }

    /** The cotangent at the consumer as D [O, N, R, F]. The caller closes the result. */
    static Tensor cotangent(PerExamplePass pass, ParameterConsumers.Consumer c) {
        Equation e = c.equation;
        Tensor delta = pass.delta(c);
        int o = pass.o;
        int n = pass.n;
        if (e.primitive() instanceof Conv) {
            int cout = delta.dim(-1);
            return delta.reshape(o, n, delta.size() / (o * n * cout), cout); // a copy: δ stays with the pass
        }
        DotGeneral d = (DotGeneral) e.primitive();
        int dataSide = 1 - c.operand;
        int dataFree = (dataSide == 0 ? d.lhsFree(e.input(0).rank()) : d.rhsFree(e.input(1).rank())).length;
        int paramFree = (c.operand == 0 ? d.lhsFree(e.input(0).rank()) : d.rhsFree(e.input(1).rank())).length;
        // y = [lhs free..., rhs free...]
        int[] dataPos = new int[dataFree];
        int[] paramPos = new int[paramFree];
        int dataStart = dataSide == 0 ? 0 : paramFree;
        int paramStart = dataSide == 0 ? dataFree : 0;
        for (int i = 0; i < dataFree; i++) {
            dataPos[i] = 1 + dataStart + i;
        }
        for (int i = 0; i < paramFree; i++) {
            paramPos[i] = 1 + paramStart + i;
        }
        int fSize = 1;
        for (int pos : paramPos) {
            fSize *= delta.dim(pos);
        }
        Tensor t = Layout.transpose(delta, Shapes.concat(new int[] {0}, dataPos, paramPos));
        return t.reshapeMove(o, n, t.size() / (o * n * Math.max(1, fSize)), fSize);
    }

    /** Exact FLOPs of the Gram order for one parameter (full kernel, or traced over the outputs). */
    static double gramFlops(long n1, long n2, long o, long r, long c, long f, boolean traced) {
        double ga = 2.0 * n1 * r * n2 * r * c;
        double gd = traced ? 2.0 * n1 * r * n2 * r * o * f : 2.0 * o * n1 * r * o * n2 * r * f;
        double combine = traced ? 2.0 * n1 * n2 * r * r : 2.0 * o * o * n1 * n2 * r * r;
        return ga + gd + combine;
    }

    /** Exact FLOPs of the sandwich order for one parameter. */
    static double sandwichFlops(long n1, long n2, long o, long r, long c, long f, boolean traced) {
        double k = 2.0 * n1 * r * n2 * r * c;
        double left = 2.0 * n1 * o * f * r * n2 * r;
        double right = traced ? 2.0 * n1 * n2 * o * r * f + (double) n1 * n2 * o : 2.0 * n1 * n2 * o * o * r * f;
        return k + left + right;
    }

    /** Exact FLOPs of the row order for one parameter. */
    static double rowFlops(long n1, long n2, long o, long r, long c, long f, boolean traced, boolean same) {
        double rows = 2.0 * (same ? n1 : n1 + n2) * o * r * c * f;
        double contract = traced ? 2.0 * n1 * n2 * o * c * f : 2.0 * n1 * o * n2 * o * c * f;
        return rows + contract;
    }

    /**
     * One parameter's block: [N1, N2] when {@code traced} (summed over o1 = o2, not yet divided by O), else
     * [N1, O, N2, O].
     */
    static Tensor block(Tensor a1, Tensor d1, Tensor a2, Tensor d2, boolean traced, boolean same, double s2) {
        long n1 = a1.dim(0);
        long n2 = a2.dim(0);
        long r = a1.dim(1);
        long c = a1.dim(2);
        long o = d1.dim(0);
        long f = d1.dim(3);
        Tensor out;
        switch (cheapestOrder(n1, n2, o, r, c, f, traced, same)) {
            case 0:
                out = gramOrder(a1, d1, a2, d2, traced);
                break;
            case 1:
                out = sandwichOrder(a1, d1, a2, d2, traced);
                break;
            default:
                out = rowOrder(a1, d1, a2, d2, traced);
        }
        KernelReduction.scale(out, s2);
        return out;
    }

    /** 0: Gram, 1: sandwich, 2: rows, whichever has the fewest FLOPs (ties: the earlier). */
    static int cheapestOrder(long n1, long n2, long o, long r, long c, long f, boolean traced, boolean same) {
        double[] cost = {gramFlops(n1, n2, o, r, c, f, traced), sandwichFlops(n1, n2, o, r, c, f, traced),
            rowFlops(n1, n2, o, r, c, f, traced, same)};
        int best = 0;
        for (int i = 1; i < cost.length; i++) {
            if (cost[i] < cost[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The cheapest order's FLOPs. */
    static double bestFlops(long n1, long n2, long o, long r, long c, long f, boolean traced, boolean same) {
        return Math.min(gramFlops(n1, n2, o, r, c, f, traced),
                Math.min(sandwichFlops(n1, n2, o, r, c, f, traced), rowFlops(n1, n2, o, r, c, f, traced, same)));
    }

    /** K = A1·A2ᵀ, then T = D1·K over r1 (batched over n1), then T·D2 over (r2, f) (batched over n2). */
    static Tensor sandwichOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, boolean traced) {
        int[] none = new int[0];
        try (Tensor k = DotGeneralKernel.dot(a1, a2, new int[] {2}, new int[] {2}, none, none); // [N1,R,N2,R]
             // T[n1, o, f, n2, r2] = Σ_r1 D1[o, n1, r1, f] K[n1, r1, n2, r2]
             Tensor t = DotGeneralKernel.dot(d1, k, new int[] {2}, new int[] {1}, new int[] {1}, new int[] {0})) {
            if (traced) {
                // [N2, O, N1] = Σ_{f, r2} T[n1, o, f, n2, r2] D2[o, n2, r2, f], batched over (n2, o)
                try (Tensor u = DotGeneralKernel.dot(t, d2, new int[] {2, 4}, new int[] {3, 2}, new int[] {3, 1},
                        new int[] {1, 0});
                     Tensor s = org.ntk4j.cpu.Reduce.reduce(org.ntk4j.cpu.Reduce.Kind.SUM, u, new int[] {1})) {
                    return Layout.transpose(s, new int[] {1, 0});
                }
            }
            // [N2, N1, O, O] = Σ_{f, r2} T[n1, o1, f, n2, r2] D2[o2, n2, r2, f], batched over n2
            try (Tensor u = DotGeneralKernel.dot(t, d2, new int[] {2, 4}, new int[] {3, 2}, new int[] {3},
                    new int[] {1})) {
                return Layout.transpose(u, new int[] {1, 2, 0, 3});
            }
        }
    }

    static Tensor gramOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, boolean traced) {
        int[] none = new int[0];
        try (Tensor ga = DotGeneralKernel.dot(a1, a2, new int[] {2}, new int[] {2}, none, none)) { // [N1,R,N2,R]
            if (traced) {
                try (Tensor gd = DotGeneralKernel.dot(d1, d2, new int[] {0, 3}, new int[] {0, 3}, none, none);
                     Tensor prod = Elementwise.binary(Elementwise.BinaryOp.MUL, gd, ga)) {
                    return Reduce.reduce(Reduce.Kind.SUM, prod, new int[] {1, 3});
                }
            }
            int n1 = a1.dim(0);
            int r = a1.dim(1);
            int n2 = a2.dim(0);
            try (Tensor gd = DotGeneralKernel.dot(d1, d2, new int[] {3}, new int[] {3}, none, none); // [O,N1,R,O,N2,R]
                 Tensor gab = ga.reshape(1, n1, r, 1, n2, r);
                 Tensor prod = Elementwise.binary(Elementwise.BinaryOp.MUL, gd, gab);
                 Tensor summed = Reduce.reduce(Reduce.Kind.SUM, prod, new int[] {2, 5})) { // [O,N1,O,N2]
                return Layout.transpose(summed, new int[] {1, 0, 3, 2});
            }
        }
    }

    static Tensor rowOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, boolean traced) {
        try (Tensor j1 = rows(a1, d1); Tensor j2 = a2 == a1 && d2 == d1 ? null : rows(a2, d2)) {
            Tensor k2 = j2 == null ? j1 : j2; // [N, C, O, F]
            int[] none = new int[0];
            if (traced) {
                return DotGeneralKernel.dot(j1, k2, new int[] {1, 2, 3}, new int[] {1, 2, 3}, none, none);
            }
            return DotGeneralKernel.dot(j1, k2, new int[] {1, 3}, new int[] {1, 3}, none, none); // [N1,O,N2,O]
        }
    }

    /** J[n, c, o, f] = Σ_r A[n, r, c] D[o, n, r, f]. */
    private static Tensor rows(Tensor a, Tensor d) {
        return DotGeneralKernel.dot(a, d, new int[] {1}, new int[] {2}, new int[] {0}, new int[] {1});
    }
}
