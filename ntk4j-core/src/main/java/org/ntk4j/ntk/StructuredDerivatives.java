package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Layout;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.primitive.LinearStructure;
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
 * matrix-Jacobian-Jacobian-matrix product then has three evaluation orders (four where the cotangent factors),
 * chosen by their exact FLOP count:
 * <ul>
 *   <li>Gram order: Σ_{r1,r2} ⟨A1[n1,r1], A2[n2,r2]⟩ · ⟨D1[·,n1,r1], D2[·,n2,r2]⟩,
 *       2·N1N2R²·(C + O²F) for the full kernel (for dense, R = 1: ⟨a1, a2⟩·δ1δ2ᵀ, one GEMM per pair of
 *       examples accumulating in place from O = {@value #PAIR_GEMMS_FROM_O} on);</li>
 *   <li>sandwich order (R &gt; 1 only): K = A1·A2ᵀ (2·N1N2R²C), then D1·K over r1 (2·N1N2·O·F·R²), then ·D2
 *       over (r2, f) (2·N1N2·O²·R·F): the reference's N²O²·(D²FW/O² + D²W/O + DW) for convolutions;</li>
 *   <li>row order: form the rows (2·N·O·R·C·F), then contract them (2·N1N2·O²·C·F), as Jacobian
 *       contraction would;</li>
 *   <li>factored order, where the cotangent factors as D[o, n, r, f] = M[n, r, f] · G[o, n, f] ({@link
 *       CotangentFactors}: the last convolution before a global average pool): P = Σ_r M·A, then Σ_f G1 Q G2 with
 *       Q = Σ_c P1 P2 (2·N·R·F·C + 2·F·N1N2·C + 2·N1N2·O²·F, {@link #addFactoredBlock}; for a one-hot data
 *       factor, an embedding's ids, P's nonzero columns only and Q by the examples' equal ids, {@link
 *       OneHotFactored}: N·R·F + 2·F·N1N2·R at most for the first two).</li>
 * </ul>
 * A consumer that adds, subtracts or multiplies the parameter elementwise (biases, norm scales) has rows
 * δ summed over the broadcast axes (times the other operand for mul), which are contracted directly
 * ({@link ElementwiseRows}, 2·N1N2O²·|p'|).
 *
 * <p>The parameter may reach its consumer through any chain of primitives that declare a
 * {@link org.ntk4j.primitive.LinearStructure} (broadcast_in_dim, reduce_sum, slice, rev, pad, concatenate,
 * reshape, transpose, neg, scalar scale, add/sub of something else): their composition is kept as the
 * Kronecker-factored Gram L·Lᵀ of the path ({@link PathGram}) and applied to the two factors, so the contraction
 * stays structured.
 * Any other parameter — several consumers, a path through a primitive without a structure, a consumer without a
 * rule — goes through the dense fallback: its per-example rows are formed, pushed through the path's VJP and
 * contracted.
 */
final class StructuredDerivatives {
    /** How a structured parameter's consumer is contracted. */
    enum Form {
        /** dot_general or conv filter: data A [N, R, C] ⊗ cotangent D [O, N, R, F]. */
        LINEAR,
        /** add/sub/mul: the rows [O, N] + shape(p') formed at once and contracted. */
        ROWS
    }

    /** The structured form of one parameter: its single consumer, how it is contracted, and the path's Gram. */
    static final class Structured {
        final ParameterConsumers.Consumer consumer;
        final Form form;
        final PathGram gram;

        Structured(ParameterConsumers.Consumer consumer, Form form, PathGram gram) {
            this.consumer = consumer;
            this.form = form;
            this.gram = gram;
        }

        /** The path's scalar factor (s² for p' = s·P(θ)). */
        double factor() {
            return gram.factor;
        }
    }

    private StructuredDerivatives() {
    }

    /**
     * How parameter {@code p} enters the network: structured (one consumer with a rule, reached through
     * primitives with a linear structure) or null for the dense fallback.
     */
    static Structured classify(ParameterConsumers pc, int p) {
        Var theta = pc.params.get(p);
        List<ParameterConsumers.Consumer> mine = pc.consumersOf(p);
        if (mine.size() != 1) {
            return null;
        }
        ParameterConsumers.Consumer c = mine.get(0);
        Form form = c.linear() != null ? Form.LINEAR : c.broadcast() != null ? Form.ROWS : null;
        if (form == null) {
            return null;
        }
        PathGram gram = pathGram(pc, theta, c.parameterValue());
        return gram == null ? null : new Structured(c, form, gram);
    }

    /**
     * The Gram of the parameter-only path θ → p', when it is a chain (each equation has exactly one operand
     * computed from θ) of primitives that declare a linear structure with respect to that operand and the
     * composition stays Kronecker-factored; null otherwise.
     */
    static PathGram pathGram(ParameterConsumers pc, Var theta, Var pv) {
        Map<Var, Equation> producer = pc.producer;
        List<Equation> chain = new ArrayList<>();
        List<Integer> operands = new ArrayList<>();
        Var v = pv;
        while (v != theta) {
            Equation e = producer.get(v);
            if (e == null) {
                return null;
            }
            int from = -1;
            for (int i = 0; i < e.inputs().size(); i++) {
                if (pc.reaches(theta, e.input(i))) {
                    if (from >= 0) {
                        return null; // θ reaches this equation twice: L is a sum of maps, not one
                    }
                    from = i;
                }
            }
            if (from < 0) {
                return null;
            }
            chain.add(0, e);
            operands.add(0, from);
            v = e.input(from);
        }
        PathGram g = PathGram.identity(theta.shape());
        for (int i = 0; i < chain.size() && g != null; i++) {
            Equation e = chain.get(i);
            LinearStructure ls = structureOf(pc, e, operands.get(i));
            g = ls == null ? null : g.through(ls, e.output().shape());
        }
        return g;
    }

    /** The linear structure of equation {@code e} with respect to its operand {@code operand}, or null. */
    private static LinearStructure structureOf(ParameterConsumers pc, Equation e, int operand) {
        TensorType[] in = new TensorType[e.inputs().size()];
        Tensor[] constants = new Tensor[in.length];
        for (int j = 0; j < in.length; j++) {
            in[j] = e.input(j).type();
            constants[j] = pc.graph.constants().get(e.input(j));
        }
        return e.primitive().linearStructure(in, e.output().type(), operand, constants);
    }

    /** The index of {@code e}'s one operand that is not a graph constant, or -1 when there are none or several. */
    private static int soleNonConstantOperand(ParameterConsumers pc, Equation e) {
        int from = -1;
        for (int i = 0; i < e.inputs().size(); i++) {
            if (!pc.graph.constants().containsKey(e.input(i))) {
                if (from >= 0) {
                    return -1;
                }
                from = i;
            }
        }
        return from;
    }

    /** The value a bias's sum reads is κ·{@code value}; {@code kappa2} = κ² (see {@link #biasSource}). */
    record BiasSource(Var value, double kappa2) {
    }

    /**
     * For an elementwise parameter {@code b} added (sign +1, not a product) with a scaled-identity path Gram (a
     * bias): the value y whose κ-multiple its sum reads, through equations that scale their one non-constant
     * operand element for element ({@link LinearStructure#isElementwise}: the NTK parameterisation's
     * y·σ_w/√fan_in; κ = 1 with none), each value on the way, y included, read by that one equation only and not
     * returned by the graph, so that y's stacked cotangent is κ times the sum's. Null otherwise.
     */
    static BiasSource biasSource(ParameterConsumers pc, Structured b) {
        ConsumerRule.Broadcast add = b.consumer.broadcast();
        if (add == null || b.form != Form.ROWS || add.timesOther() || add.sign() != 1 || !b.gram.isScaledIdentity()) {
            return null;
        }
        double kappa2 = 1;
        Var v = b.consumer.dataValue();
        while (true) {
            if (pc.reads.getOrDefault(v, 0) != 1 || pc.graph.outputs().contains(v)) {
                return null;
            }
            Equation e = pc.producer.get(v);
            int from = e == null ? -1 : soleNonConstantOperand(pc, e);
            LinearStructure ls = from < 0 || !java.util.Arrays.equals(e.input(from).shape(), v.shape()) ? null
                    : structureOf(pc, e, from);
            if (ls == null || !ls.isElementwise() || ls.scale() == 0) {
                return new BiasSource(v, kappa2); // not a scaling: v is the candidate y
            }
            kappa2 *= ls.scale() * ls.scale();
            v = e.input(from);
        }
    }

    /**
     * The factor s_b/κ² with which the bias {@code b}, whose sum reads κ·y ({@link #biasSource}) for y the output
     * of the linear parameter {@code w}'s consumer, joins {@code w}'s Gram-order step; NaN when it cannot: unless
     * p'_b is broadcast over every axis of y but its trailing F features and the linear consumer's cotangent factor
     * is y's cotangent reshaped, untouched by w's path Gram. Then b's rows are Σ_r D[o, n, r, ·]/κ, its block
     * Σ_{r1,r2} GD/κ², and Θ_w + Θ_b = Σ_{r1,r2} (s_w·GA + s_b/κ²) ⊙ GD: one cotangent GEMM instead of two (a
     * dense layer's weight and bias, a conv filter and its channel bias).
     */
    static double sharedBiasFactor(Structured w, Structured b, double kappa2) {
        ConsumerRule.Linear lin = w.consumer.linear();
        if (lin == null || w.form != Form.LINEAR || !lin.cotangentIsReshape()) {
            return Double.NaN;
        }
        for (int a : lin.featureAxes()) {
            if (w.gram.kind[a] != PathGram.Kind.ID) {
                return Double.NaN;
            }
        }
        // broadcast over axes 1..m-1 exactly, kept the trailing axes m.. of y, whose product is F
        int[] summed = b.consumer.broadcast().broadcastAxes();
        for (int i = 0; i < summed.length; i++) {
            if (summed[i] != i + 1) {
                return Double.NaN;
            }
        }
        int[] ys = w.consumer.equation.output().shape();
        long kept = 1;
        for (int a = summed.length + 1; a < ys.length; a++) {
            kept *= ys[a];
        }
        boolean fits = summed.length + 1 < ys.length && kept == lin.features()
                && Shapes.size(b.consumer.parameterValue().shape()) == lin.features();
        return fits ? b.factor() / kappa2 : Double.NaN;
    }

    /**
     * Adds one structured parameter's block of the kernel to {@code acc}, shaped by {@code pairs} ({@link
     * OutputPairs#blockShape}; the trace not yet divided by O): the consumer's factors with the path Gram applied,
     * contracted in the plan's {@code order} ({@link SdPlan}: chosen for the whole problem, so that a tile of a
     * larger kernel evaluates exactly as the whole kernel does; unused by an elementwise consumer's rows).
     */
    static void addParameterBlock(Tensor acc, Structured st, PerExamplePass pass1, ParameterConsumers.Consumer c1,
                                  PerExamplePass pass2, ParameterConsumers.Consumer c2, OutputPairs pairs,
                                  boolean same, ContractionOrder order) {
        addParameterBlock(acc, st, pass1, c1, pass2, c2, pairs, same, order, Double.NaN);
    }

    /**
     * {@link #addParameterBlock} for a linear parameter together with a bias that shares its cotangent Gram, of
     * factor {@code biasFactor} there ({@link #sharedBiasFactor}, Gram order only; NaN for none): both blocks at
     * once.
     */
    static void addParameterBlock(Tensor acc, Structured st, PerExamplePass pass1, ParameterConsumers.Consumer c1,
                                  PerExamplePass pass2, ParameterConsumers.Consumer c2, OutputPairs pairs,
                                  boolean same, ContractionOrder order, double biasFactor) {
        PathGram g = st.gram;
        if (st.form == Form.ROWS) {
            try (Sides<Tensor> rows = Sides.of(same, () -> flatRows(pass1, c1), () -> flatRows(pass2, c2),
                    Tensor::close)) {
                int[] all = Shapes.iota(g.shape.length);
                FlopCount.add(gramFlops(g, all, (long) pass1.o * pass1.n,
                        same && gramKeepsSides(g, all) ? 0 : (long) pass2.o * pass2.n));
                Tensor[] f = applyGram(g, all, rows.first(), rows.second(), 2);
                try (Tensor b = pairs.rowsProduct(true).dot(f[0], f[1])) {
                    Elementwise.addScaledInPlace(acc, g.factor, b);
                } finally {
                    closeFactors(f, rows.first(), rows.second());
                }
            }
            return;
        }
        if (order == ContractionOrder.FACTORED) {
            addFactoredBlock(acc, pass1, c1, pass2, c2, pairs, same, g.factor, biasFactor,
                    dataByRule(st, order, false));
            return;
        }
        int[][] sides = factorAxes(st.consumer);
        double column = order == ContractionOrder.ROWS ? rowBiasColumn(biasFactor, g.factor) : Double.NaN;
        ConsumerRule.Linear byRule = dataByRule(st, order, !Double.isNaN(column));
        if (byRule != null) {
            addBlockByRule(acc, st, byRule, pass1, c1, pass2, c2, pairs, same, order, biasFactor);
            return;
        }
        try (Sides<Tensor> a = Sides.of(same, () -> data(pass1, c1, column), () -> data(pass2, c2, column),
                Tensor::close);
             Sides<Tensor> d = Sides.of(same, () -> cotangent(pass1, c1), () -> cotangent(pass2, c2),
                     Tensor::close)) {
            Tensor[] fa = applyGram(g, sides[0], a.first(), a.second(), 2);
            Tensor[] fd = null;
            try {
                fd = applyGram(g, sides[1], d.first(), d.second(), 3);
                boolean stillSame = same && fa[0] == fa[1] && fd[0] == fd[1];
                long r = a.first().dim(1);
                long m1 = a.first().dim(0) * r;
                long m2 = stillSame ? 0 : a.second().dim(0) * r;
                FlopCount.add(gramFlops(g, sides[0], m1, m2) + gramFlops(g, sides[1], pass1.o * m1, pass1.o * m2));
                addBlock(acc, null, fa[0], fd[0], fa[1], fd[1], pairs, stillSame, g.factor, order, biasFactor);
            } finally {
                closeFactors(fa, a.first(), a.second());
                if (fd != null) {
                    closeFactors(fd, d.first(), d.second());
                }
            }
        }
    }

    /**
     * The consumer's rule where {@code order} runs on the data operand itself, the rule forming the data Gram
     * ({@link ConsumerRule.Linear#dataGram}: the Gram and sandwich orders) or the rows ({@link
     * ConsumerRule.Linear#rows(Tensor, Tensor)}: the row order, without a bias column), or the factored order's P
     * and Q from the one-hot's columns ({@link ConsumerRule.Linear#oneHotData}, {@link OneHotFactored}) without A —
     * the path Gram then being the identity on the data axes; null where A is formed.
     */
    static ConsumerRule.Linear dataByRule(Structured st, ContractionOrder order, boolean biasColumn) {
        ConsumerRule.Linear rule = st.consumer.linear();
        for (int a : rule.dataAxes()) {
            if (st.gram.kind[a] != PathGram.Kind.ID) {
                return null;
            }
        }
        boolean byRule = switch (order) {
            case GRAM, SANDWICH -> rule.dataGramWithoutData();
            case ROWS -> rule.rowsWithoutData() && !biasColumn;
            case FACTORED -> rule.oneHotData();
        };
        return byRule ? rule : null;
    }

    /**
     * {@link #addParameterBlock} where the rule {@code byRule} reads the data operands themselves ({@link
     * #dataByRule}): only the cotangent factors get the path Gram.
     */
    private static void addBlockByRule(Tensor acc, Structured st, ConsumerRule.Linear byRule, PerExamplePass pass1,
                                       ParameterConsumers.Consumer c1, PerExamplePass pass2,
                                       ParameterConsumers.Consumer c2, OutputPairs pairs, boolean same,
                                       ContractionOrder order, double biasFactor) {
        PathGram g = st.gram;
        int[] featureAxes = byRule.featureAxes();
        Tensor x1 = pass1.operand(c1.dataValue());
        Tensor x2 = same ? x1 : pass2.operand(c2.dataValue());
        try (Sides<Tensor> d = Sides.of(same, () -> cotangent(pass1, c1), () -> cotangent(pass2, c2),
                Tensor::close)) {
            Tensor[] fd = applyGram(g, featureAxes, d.first(), d.second(), 3);
            try {
                boolean stillSame = same && fd[0] == fd[1];
                long m1 = (long) x1.dim(0) * byRule.positions();
                long m2 = stillSame ? 0 : (long) x2.dim(0) * byRule.positions();
                FlopCount.add(gramFlops(g, featureAxes, pass1.o * m1, pass1.o * m2));
                addBlock(acc, byRule, x1, fd[0], stillSame ? x1 : x2, fd[1], pairs, stillSame, g.factor, order,
                        biasFactor);
            } finally {
                closeFactors(fd, d.first(), d.second());
            }
        }
    }

    /**
     * The {@link ContractionOrder#FACTORED} order (a scaled-identity path Gram s2): with D[o, n, r, f] = M[n, r, f]
     * · G[o, n, f] on each side ({@link PerExamplePass#cotangentFactors}), P[n, f, c] = Σ_r M[n, r, f] A[n, r, c]
     * and Q[n1, n2, f] = s2 · Σ_c P1[n1, f, c] P2[n2, f, c] (plus b · m̄1[n1, f] m̄2[n2, f] for a bias sharing the
     * step with factor b, m̄ = Σ_r M: its rows are G ⊗ m̄), acc[n1, o1, n2, o2] += Σ_f G1[o1, n1, f] Q[n1, n2, f]
     * G2[o2, n2, f] ({@link #combineFactored}); the per-example kernels need Q's diagonal only, Σ_c P1 P2 per
     * (n, f). Where {@code byRule}'s data factor is a one-hot ({@link ConsumerRule.Linear#oneHotData}: an
     * embedding, P[n, f, v] = Σ_r [id(n, r) = v] M[n, r, f]) P is kept as its K_n ≤ R nonzero columns a side and
     * Q pairs the examples' equal columns ({@link OneHotFactored}: neither A [N, R, V] nor P [N, F, V] is formed);
     * else P is a product with A.
     */
    static void addFactoredBlock(Tensor acc, PerExamplePass pass1, ParameterConsumers.Consumer c1,
                                 PerExamplePass pass2, ParameterConsumers.Consumer c2, OutputPairs pairs, boolean same,
                                 double s2, double biasFactor, ConsumerRule.Linear byRule) {
        boolean bias = !Double.isNaN(biasFactor);
        try (Sides<FactoredSide> sides = Sides.of(same, () -> factoredSide(pass1, c1, bias, byRule),
                () -> factoredSide(pass2, c2, bias, byRule), FactoredSide::close)) {
            FactoredSide x1 = sides.first();
            FactoredSide x2 = sides.second();
            int n1 = x1.g.dim(0);
            int n2 = x2.g.dim(0);
            int o = x1.g.dim(1);
            int f = x1.g.dim(2);
            ConsumerRule.Linear rule = c1.linear();
            long r = rule.positions();
            FlopCount.add(blockFlops(ContractionOrder.FACTORED, byRule, n1, n2, o, r, rule.fanIn(), f, pairs, same)
                    + (bias ? factoredBiasFlops(n1, n2, r, f, pairs, same) : 0));
            try (Tensor q = x1.oneHot != null ? x1.oneHot.products(x2.oneHot, pairs.perExample(), same)
                    : pairs.perExample() ? productSums(x1.p, x2.p) // [N, F]
                    : DotGeneralKernel.dot(x1.p, x2.p, new int[] {2}, new int[] {2}, new int[] {1}, new int[] {1},
                    Q_LAYOUT)) { // [N1, N2, F]
                Elementwise.scaleInPlace(q, s2);
                if (bias) {
                    try (Tensor m1 = x1.sums.readView(pairs.perExample() ? new int[] {n1, f} : new int[] {n1, 1, f});
                         Tensor m2 = x2.sums.readView(pairs.perExample() ? new int[] {n2, f} : new int[] {1, n2, f});
                         Tensor outer = Elementwise.binary(Elementwise.BinaryOp.MUL, m1, m2)) {
                        Elementwise.addScaledInPlace(q, biasFactor, outer);
                    }
                }
                combineFactored(acc, x1.g, x2.g, q, pairs, same);
            }
        }
    }

    /**
     * One side of the factored order: P [N, F, C], or where the data factor is a one-hot its nonzero columns
     * ({@code oneHot}, P then null); G as [N, O, F] (example-major); m̄ = Σ_r M [N, F], or null without a bias.
     */
    private record FactoredSide(Tensor p, OneHotFactored oneHot, Tensor g, Tensor sums) {
        void close() {
            if (oneHot != null) {
                oneHot.close();
            }
            KernelSupport.closeAll(new Tensor[] {p, g, sums});
        }
    }

    /** Q [F, N1, N2] as dot_general forms it, written [N1, N2, F]: each pair's weights over f contiguous. */
    static final int[] Q_LAYOUT = {1, 2, 0};

    /**
     * One side of the factored order ({@link FactoredSide}); M and A are closed once P is formed. With {@code
     * byRule} (a one-hot data factor, {@link #dataByRule}) A is never formed: the one-hot's columns and M give the
     * side's {@link OneHotFactored}.
     */
    private static FactoredSide factoredSide(PerExamplePass pass, ParameterConsumers.Consumer c, boolean bias,
                                             ConsumerRule.Linear byRule) {
        Tensor[] mg = pass.cotangentFactors(c);
        if (mg == null) {
            throw new IllegalStateException("structured derivatives: the cotangent at " + c.equation.output()
                    + " does not factor on this side");
        }
        Tensor g = null;
        Tensor sums = null;
        try (Tensor m = mg[0]; Tensor go = mg[1]; Tensor a = byRule == null ? data(pass, c) : null) {
            g = Layout.transpose(go, EXAMPLE_MAJOR);
            sums = bias ? Reduce.reduce(Reduce.Kind.SUM, m, new int[] {1}) : null;
            if (a != null) {
                return new FactoredSide(DotGeneralKernel.dot(m, a, new int[] {1}, new int[] {1}, EXAMPLE_AXIS,
                        EXAMPLE_AXIS), null, g, sums);
            }
            return new FactoredSide(null, OneHotFactored.of(byRule.oneHotColumns(pass.operand(c.dataValue())), m),
                    g, sums);
        } catch (RuntimeException e) {
            if (g != null) {
                g.close();
            }
            if (sums != null) {
                sums.close();
            }
            throw e;
        }
    }

    /** [O, N, ·] as [N, O, ·]. */
    private static final int[] EXAMPLE_MAJOR = {1, 0, 2};

    /** Σ_c x[n, f, c] y[n, f, c] as [N, F]: the products, summed by a product with ones. */
    private static Tensor productSums(Tensor x, Tensor y) {
        int rows = x.dim(0) * x.dim(1);
        int c = x.dim(2);
        Tensor out = Tensor.zeros(x.dtype(), x.dim(0), x.dim(1));
        try (Tensor w = Elementwise.binary(Elementwise.BinaryOp.MUL, x, y);
             Tensor ones = Tensor.full(x.dtype(), 1.0, c)) {
            Blas.gemm(false, false, rows, 1, c, 1.0, w, 0, c, ones, 0, 1, 0.0, out, 0, 1);
        }
        return out;
    }

    /**
     * acc += Σ_f G1[n1, o1, f] Q[n1, n2, f] G2[n2, o2, f] (G example-major) for the pairs the kernel needs: per n1,
     * Z = G2 ⊙ Q[n1] over (n2, o2, f), then the full block's rows (n1, o1) as one GEMM G1[n1] · Zᵀ, or for the
     * per-output diagonal and the trace Z ⊙ G1[n1] summed over f (and o) by a product with ones. The per-example
     * kernels read Q [N, F] as the diagonal n1 = n2. Of a side with itself ({@code upper}), the blocks n2 ≥ n1
     * only (the kernel's final mirror writes the others).
     */
    static void combineFactored(Tensor acc, Tensor g1, Tensor g2, Tensor q, OutputPairs pairs, boolean upper) {
        int n1 = g1.dim(0);
        int o = g1.dim(1);
        int f = g1.dim(2);
        int of = o * f;
        boolean full = pairs == OutputPairs.FULL || pairs == OutputPairs.PER_EXAMPLE;
        try (Tensor ones = full ? null : Tensor.full(g1.dtype(), 1.0, pairs == OutputPairs.DIAGONAL ? f : of)) {
            if (pairs.perExample()) {
                // Z[n, o, f] = G2[n, o, f] Q[n, f]
                try (Tensor qv = q.readView(n1, 1, f);
                     Tensor z = Elementwise.binary(Elementwise.BinaryOp.MUL, g2, qv)) {
                    if (pairs == OutputPairs.PER_EXAMPLE) {
                        for (int n = 0; n < n1; n++) {
                            Blas.gemm(false, true, o, o, f, 1.0, g1, (long) n * of, f, z, (long) n * of, f, 1.0, acc,
                                    (long) n * o * o, o);
                        }
                    } else {
                        try (Tensor w = Elementwise.binary(Elementwise.BinaryOp.MUL, z, g1)) {
                            Blas.gemm(false, false, n1, 1, of, 1.0, w, 0, of, ones, 0, 1, 1.0, acc, 0, 1);
                        }
                    }
                }
                return;
            }
            int n2 = g2.dim(0);
            for (int i = 0; i < n1; i++) {
                int lo = upper ? i : 0;
                int cols = n2 - lo;
                try (Tensor qi = Layout.sliceAxis(q, 0, i, i + 1);
                     Tensor qv = qi.readView(n2, 1, f);
                     Tensor z = Elementwise.binary(Elementwise.BinaryOp.MUL, g2, qv)) { // [N2, O, F]
                    if (pairs == OutputPairs.FULL) {
                        Blas.gemm(false, true, o, cols * o, f, 1.0, g1, (long) i * of, f, z, (long) lo * of, f, 1.0,
                                acc, (long) i * o * n2 * o + (long) lo * o, n2 * o);
                        continue;
                    }
                    try (Tensor gi = Layout.sliceAxis(g1, 0, i, i + 1);
                         Tensor w = Elementwise.binary(Elementwise.BinaryOp.MUL, z, gi)) {
                        if (pairs == OutputPairs.DIAGONAL) { // acc[i, n2, o], rows (n2, o) summed over f
                            Blas.gemm(false, false, cols * o, 1, f, 1.0, w, (long) lo * of, f, ones, 0, 1, 1.0, acc,
                                    ((long) i * n2 + lo) * o, 1);
                        } else { // the trace: acc[i, n2], rows n2 summed over (o, f)
                            Blas.gemm(false, false, cols, 1, of, 1.0, w, (long) lo * of, of, ones, 0, 1, 1.0, acc,
                                    (long) i * n2 + lo, 1);
                        }
                    }
                }
            }
        }
    }

    /**
     * Exact FLOPs of the factored order for one parameter, its factors formed (counted apart): P (2·N·R·F·C a
     * side), Q (2·F·N1·N2·C; per example the products and their sums, 3·N·F·C) and its scaling (one per element),
     * then the combination: per n1, Z = G2 ⊙ Q[n1] (N2·O·F) and the GEMM of the blocks n2 ≥ n1 (2·O²·F each;
     * all N2 unless {@code same}); for the diagonal and the trace, Z ⊙ G1[n1] (N2·O·F) and its sums (2·O·F per
     * block); per example, Z once (N·O·F), then a GEMM per example (2·O²·F) or, traced, Z ⊙ G1 and its sums
     * (3·N·O·F).
     */
    static double factoredFlops(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        return factoredProductFlops(n1, n2, r, c, f, same) + factoredQFlops(n1, n2, c, f, pairs)
                + factoredCombineFlops(n1, n2, o, f, pairs, same);
    }

    /** FLOPs of the factored order's Q = Σ_c P1 P2 from P over all C (see {@link #factoredFlops}). */
    static double factoredQFlops(long n1, long n2, long c, long f, OutputPairs pairs) {
        return pairs.perExample() ? 3.0 * n1 * f * c : 2.0 * f * n1 * n2 * c;
    }

    /** FLOPs of the factored order once Q is formed: its scaling and the combination (see {@link #factoredFlops}). */
    static double factoredCombineFlops(long n1, long n2, long o, long f, OutputPairs pairs, boolean same) {
        if (pairs.perExample()) {
            return n1 * f + (pairs == OutputPairs.PER_EXAMPLE ? n1 * o * f + 2.0 * n1 * o * o * f
                    : 4.0 * n1 * o * f);
        }
        double blocks = same ? n1 * (n1 + 1) / 2.0 : (double) n1 * n2;
        return (double) n1 * n2 * f + (pairs == OutputPairs.FULL ? (double) n1 * n2 * o * f + 2.0 * blocks * o * o * f
                : 2.0 * n1 * n2 * o * f + 2.0 * blocks * o * f);
    }

    /** FLOPs of the factored order's P = Σ_r M·A on each side, as products with A (2·N·R·F·C a side). */
    static double factoredProductFlops(long n1, long n2, long r, long c, long f, boolean same) {
        return 2.0 * (same ? n1 : n1 + n2) * r * f * c;
    }

    /**
     * FLOPs of a bias sharing the factored order: m̄ = Σ_r M on each side (one per element summed), their outer
     * product over f and its scaled addition to Q (three per element of Q).
     */
    static double factoredBiasFlops(long n1, long n2, long r, long f, OutputPairs pairs, boolean same) {
        double sums = (double) (same ? n1 : n1 + n2) * r * f;
        return sums + 3.0 * (pairs.perExample() ? n1 : n1 * n2) * f;
    }

    /** The rows [O, N] + shape(p') of an elementwise consumer as [O, N, |p'|]. */
    private static Tensor flatRows(PerExamplePass pass, ParameterConsumers.Consumer c) {
        Tensor r = ElementwiseRows.rows(pass, c);
        return r.reshapeMove(pass.o, pass.n, r.size() / (pass.o * pass.n));
    }

    /**
     * The axes of p' that the data factor's last axis (C) and the cotangent factor's last axis (F) flatten, in
     * that order: {C axes, F axes}.
     */
    static int[][] factorAxes(ParameterConsumers.Consumer c) {
        ConsumerRule.Linear rule = c.linear();
        return new int[][] {rule.dataAxes(), rule.featureAxes()};
    }

    /**
     * The Gram's non-identity axes applied to a factor [lead...] + [flatten of p' axes {@code axes}] on both
     * sides: ONES sums the axis on both sides, DIAG weights side 2. Returns the two factors with the last axis
     * flattened again (the inputs themselves where nothing applies; one tensor for both sides while they agree).
     */
    static Tensor[] applyGram(PathGram g, int[] axes, Tensor x1, Tensor x2, int lead) {
        boolean any = false;
        for (int a : axes) {
            any |= g.kind[a] != PathGram.Kind.ID;
        }
        if (!any) {
            return new Tensor[] {x1, x2};
        }
        int[] pShape = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            pShape[i] = g.shape[axes[i]];
        }
        Tensor s1 = x1.reshape(Shapes.concat(java.util.Arrays.copyOf(x1.shape(), lead), pShape));
        Tensor s2 = x2 == x1 ? s1 : x2.reshape(Shapes.concat(java.util.Arrays.copyOf(x2.shape(), lead), pShape));
        for (int i = 0; i < axes.length; i++) {
            int a = axes[i];
            int pos = lead + i;
            if (g.kind[a] == PathGram.Kind.ONES) {
                Tensor n1 = sumKeep(s1, pos);
                Tensor n2 = s2 == s1 ? n1 : sumKeep(s2, pos);
                if (s2 != s1) {
                    s2.close();
                }
                s1.close();
                s1 = n1;
                s2 = n2;
            } else if (g.kind[a] == PathGram.Kind.DIAG) {
                int[] ws = new int[s2.rank()];
                java.util.Arrays.fill(ws, 1);
                ws[pos] = g.shape[a];
                Tensor n2;
                try (Tensor w = Tensor.of(s2.dtype(), g.weight[a], ws)) {
                    n2 = Elementwise.binary(Elementwise.BinaryOp.MUL, s2, w);
                }
                if (s2 != s1) {
                    s2.close();
                }
                s2 = n2;
            }
        }
        Tensor f1 = flattenTail(s1, lead);
        Tensor f2 = s2 == s1 ? f1 : flattenTail(s2, lead);
        return new Tensor[] {f1, f2};
    }

    /** [lead...] + [rest...] as [lead...] + [size of rest], taking over the storage. */
    private static Tensor flattenTail(Tensor t, int lead) {
        int[] head = java.util.Arrays.copyOf(t.shape(), lead);
        return t.reshapeMove(Shapes.concat(head, new int[] {t.size() / Math.max(1, Shapes.size(head))}));
    }

    /** Size of the flattened p' axes {@code axes} after {@link #applyGram} (ONES axes summed to 1). */
    static long gramSize(PathGram g, int[] axes) {
        long r = 1;
        for (int a : axes) {
            r *= g.kind[a] == PathGram.Kind.ONES ? 1 : g.shape[a];
        }
        return r;
    }

    /** True when {@link #applyGram} keeps both sides one tensor (no DIAG axis among {@code axes}). */
    static boolean gramKeepsSides(PathGram g, int[] axes) {
        for (int a : axes) {
            if (g.kind[a] == PathGram.Kind.DIAG) {
                return false;
            }
        }
        return true;
    }

    /**
     * FLOPs of {@link #applyGram} on factors of {@code lead1}, {@code lead2} leading elements (lead2 = 0 when
     * both sides are one tensor): a sum over a ONES axis costs one addition per element summed (both sides), a
     * DIAG axis one multiplication per element of side 2.
     */
    static double gramFlops(PathGram g, int[] axes, long lead1, long lead2) {
        long size = 1;
        for (int a : axes) {
            size *= g.shape[a];
        }
        double flops = 0;
        for (int a : axes) {
            if (g.kind[a] == PathGram.Kind.ONES) {
                flops += (double) (lead1 + lead2) * size;
                size /= g.shape[a];
            } else if (g.kind[a] == PathGram.Kind.DIAG) {
                flops += (double) (lead2 == 0 ? lead1 : lead2) * size;
            }
        }
        return flops;
    }

    /** Sum over one axis, keeping it with size 1. */
    private static Tensor sumKeep(Tensor t, int axis) {
        int[] shape = t.shape();
        shape[axis] = 1;
        return Reduce.reduce(Reduce.Kind.SUM, t, new int[] {axis}).reshapeMove(shape);
    }

    /** Closes the factors {@link #applyGram} made (not its inputs). */
    private static void closeFactors(Tensor[] f, Tensor x1, Tensor x2) {
        if (f[0] != x1 && f[0] != x2) {
            f[0].close();
        }
        if (f[1] != f[0] && f[1] != x1 && f[1] != x2) {
            f[1].close();
        }
    }

    /** The data operand as A [N, R, C], by the consumer's own rule. The caller closes the result. */
    static Tensor data(PerExamplePass pass, ParameterConsumers.Consumer c) {
        return c.linear().data(pass.operand(c.dataValue()));
    }

    /** {@link #data}, with one more column of {@code column} unless it is NaN: [N, R, C + 1]. */
    private static Tensor data(PerExamplePass pass, ParameterConsumers.Consumer c, double column) {
        return Double.isNaN(column) ? data(pass, c) : c.linear().data(pass.operand(c.dataValue()), column);
    }

    /**
     * The constant column β of the data factor with which a bias joins the row order (NaN without a bias): the
     * rows then end in β·Σ_r D, and s2·(J·J'ᵀ) adds s2·β²·⟨Σ_r D1, Σ_r D2⟩ — the bias's block b·Σ_{r1,r2} GD
     * ({@link #sharedBiasFactor}) for β = √(b / s2) (the plan joins it only when s2 &gt; 0).
     */
    static double rowBiasColumn(double biasFactor, double s2) {
        return Double.isNaN(biasFactor) ? Double.NaN : Math.sqrt(biasFactor / s2);
    }

    /** The cotangent at the consumer as D [O, N, R, F], by the consumer's own rule. The caller closes the result. */
    static Tensor cotangent(PerExamplePass pass, ParameterConsumers.Consumer c) {
        return c.linear().cotangent(pass.delta(c));
    }

    /**
     * Exact FLOPs of the Gram order for one parameter (for the output pairs the kernel needs); with one tensor for
     * both sides ({@code same}) GA and GD are Grams of a tensor with itself ({@link DotGeneralKernel#gramFlops})
     * except where the full kernel runs one GEMM per pair of examples.
     */
    static double gramFlops(long n1, long n2, long o, long r, long c, long f, OutputPairs outputs, boolean same) {
        if (outputs.perExample()) {
            // per example, GD [O·R, O·R] over F, or traced [R, R] over (O, F), then combined with GA [R, R]
            long pairs = outputs == OutputPairs.PER_EXAMPLE ? o * o : 1;
            double gd = same ? DotGeneralKernel.gramFlops(new int[] {(int) o, (int) n1, (int) r, (int) f},
                    perExampleContraction(outputs), PER_EXAMPLE_BATCH)
                    : 2.0 * n1 * r * r * f * (outputs == OutputPairs.PER_EXAMPLE ? o * o : o);
            return activationGramFlops(n1, n2, r, c, outputs, same) + gd + 2.0 * n1 * pairs * r * r;
        }
        double ga = activationGramFlops(n1, n2, r, c, outputs, same);
        // the kernel of a side with itself combines the example blocks n1 ≤ n2 only: N(N+1)/2 of N²
        double pairs = same ? n1 * (n1 + 1) / 2.0 : (double) n1 * n2;
        double gd;
        double combine;
        switch (outputs) {
            case TRACE:
                gd = same ? DotGeneralKernel.gramFlops(new int[] {(int) n1, (int) r, (int) o, (int) f},
                        new int[] {2, 3}, new int[0]) : 2.0 * n1 * r * n2 * r * o * f;
                combine = 2.0 * r * r * pairs;
                break;
            case DIAGONAL:
                gd = same ? DotGeneralKernel.gramFlops(new int[] {(int) o, (int) n1, (int) r, (int) f},
                        PER_OUTPUT_CONTRACTION, PER_OUTPUT) : 2.0 * o * n1 * r * n2 * r * f;
                combine = 2.0 * o * r * r * pairs;
                break;
            default:
                gd = same && !pairGemms(o, r) ? DotGeneralKernel.gramFlops(new int[] {(int) n1, (int) o, (int) r,
                        (int) f}, new int[] {3}, new int[0])
                        : 2.0 * o * r * o * r * f * pairs;
                combine = 2.0 * o * o * r * r * pairs;
        }
        return ga + gd + combine;
    }

    /**
     * The outputs' axis of D [O, N, R, F] (and of an elementwise consumer's rows [O, N, P]), over which the
     * per-output (diagonal) products are batched.
     */
    static final int[] PER_OUTPUT = {0};

    /** The axis of D [O, N, R, F] the per-output cotangent Grams contract: the features. */
    static final int[] PER_OUTPUT_CONTRACTION = {3};

    /**
     * FLOPs of A1·A2ᵀ over C, [N1, R, N2, R], or batched over the examples [N, R, R] for {@code PER_EXAMPLE}: the
     * Gram of A with itself when {@code same}.
     */
    private static double activationGramFlops(long n1, long n2, long r, long c, OutputPairs pairs, boolean same) {
        int[] batch = pairs.perExample() ? EXAMPLE_AXIS : new int[0];
        return same ? DotGeneralKernel.gramFlops(new int[] {(int) n1, (int) r, (int) c}, new int[] {2}, batch)
                : pairs.perExample() ? 2.0 * n1 * r * r * c : 2.0 * n1 * r * n2 * r * c;
    }

    /**
     * A1·A2ᵀ over C, [N1, R, N2, R]: the Gram of A with itself when both sides' factors are one tensor each (what
     * the FLOP rules call {@code same}; a data factor shared by sides whose cotangent factors differ is not).
     */
    private static Tensor activationGram(Tensor a1, Tensor d1, Tensor a2, Tensor d2, OutputPairs pairs) {
        return a2 == a1 && d2 == d1 ? ConsumerRule.Linear.selfGram(a1, pairs.perExample())
                : ConsumerRule.Linear.productGram(a1, a2, pairs.perExample());
    }

    /** The examples' axis of A [N, R, C] (and of the rows J [N, O, F, C]), batched for {@code PER_EXAMPLE}. */
    private static final int[] EXAMPLE_AXIS = {0};

    /** The examples' axis of D [O, N, R, F], over which the per-example cotangent Grams are batched. */
    static final int[] PER_EXAMPLE_BATCH = {1};

    /** The axes of D [O, N, R, F] the per-example cotangent Grams contract: the features, and the outputs traced. */
    static int[] perExampleContraction(OutputPairs pairs) {
        return pairs == OutputPairs.PER_EXAMPLE_TRACE ? new int[] {0, 3} : new int[] {3};
    }

    /** Exact FLOPs of the sandwich order for one parameter. */
    static double sandwichFlops(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        double k = activationGramFlops(n1, n2, r, c, pairs, same);
        if (pairs.perExample()) {
            return k + 2.0 * n1 * o * f * r * r + 2.0 * n1 * (pairs == OutputPairs.PER_EXAMPLE ? o * o : o) * r * f;
        }
        double left = 2.0 * n1 * o * f * r * n2 * r;
        double right = pairs == OutputPairs.TRACE ? 2.0 * n1 * n2 * o * r * f + (double) n1 * n2 * o
                : pairs == OutputPairs.DIAGONAL ? 2.0 * n1 * n2 * o * r * f
                : same ? (double) n1 * (n1 + 1) * o * o * r * f // the blocks n1 ≤ n2 only (sandwichUpper)
                : 2.0 * n1 * n2 * o * o * r * f;
        return k + left + right;
    }

    /** FLOPs of the row order's rows J = Σ_r A ⊗ D, 2·N·O·R·C·F a side. */
    private static double rowFormationFlops(long n1, long n2, long o, long r, long c, long f, boolean same) {
        return 2.0 * (same ? n1 : n1 + n2) * o * r * c * f;
    }

    /** Exact FLOPs of the row order for one parameter. */
    static double rowFlops(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        double rows = rowFormationFlops(n1, n2, o, r, c, f, same);
        double contract = pairs == OutputPairs.DIAGONAL ? 2.0 * n1 * n2 * o * c * f
                : same ? DotGeneralKernel.gramFlops(new int[] {(int) n1, (int) o, (int) f, (int) c},
                rowContraction(pairs), rowBatch(pairs))
                : pairs == OutputPairs.PER_EXAMPLE ? 2.0 * n1 * o * o * c * f
                : pairs == OutputPairs.PER_EXAMPLE_TRACE ? 2.0 * n1 * o * c * f
                : pairs == OutputPairs.TRACE ? 2.0 * n1 * n2 * o * c * f : 2.0 * n1 * o * n2 * o * c * f;
        return rows + contract;
    }

    /**
     * acc += s2 · one parameter's block, shaped by {@code pairs} ({@link OutputPairs#blockShape}; the trace
     * summed over o1 = o2, not yet divided by O), evaluated in the plan's order (chosen for the whole problem,
     * not these tensors' own sizes: a tile of a larger kernel then evaluates exactly as the whole kernel does);
     * with the block of a bias sharing the cotangent Gram when {@code biasFactor} is not NaN ({@link
     * #sharedBiasFactor}, Gram order only). Where {@code byRule} is not null ({@link #dataByRule}), {@code x1} and
     * {@code x2} are the data operands from which that rule forms the data Gram or the rows; else they are the data
     * factors A.
     */
    static void addBlock(Tensor acc, ConsumerRule.Linear byRule, Tensor x1, Tensor d1, Tensor x2, Tensor d2,
                         OutputPairs pairs, boolean same, double s2, ContractionOrder order, double biasFactor) {
        long n1 = d1.dim(1);
        long n2 = d2.dim(1);
        long r = d1.dim(2);
        long c = byRule == null ? x1.dim(2) : byRule.fanIn();
        long o = d1.dim(0);
        long f = d1.dim(3);
        boolean bias = !Double.isNaN(biasFactor);
        if (bias && order == ContractionOrder.SANDWICH) { // FACTORED runs in addFactoredBlock
            throw new IllegalArgumentException("a bias shares the Gram and row orders' steps only, not " + order);
        }
        // in the row order a bias is already the data factor's last column (rowBiasColumn): c counts it
        boolean gramBias = bias && order == ContractionOrder.GRAM;
        FlopCount.add(blockFlops(order, byRule, n1, n2, o, r, c, f, pairs, same)
                + (gramBias ? biasFlops(n1, n2, r) : 0));
        boolean one = x2 == x1 && d2 == d1;
        switch (order) {
            case GRAM:
                addGramOrder(acc, s2, biasFactor, dataGram(byRule, x1, d1, x2, d2, pairs), d1, d2, pairs, one);
                break;
            case SANDWICH:
                try (Tensor b = sandwichOrder(dataGram(byRule, x1, d1, x2, d2, pairs), d1, d2, pairs, one)) {
                    Elementwise.addScaledInPlace(acc, s2, b);
                }
                break;
            default:
                try (Tensor b = rowOrder(byRule, x1, d1, x2, d2, pairs)) {
                    Elementwise.addScaledInPlace(acc, s2, b);
                }
        }
    }

    /** GA [N1, R, N2, R] ([N, R, R] per example): by the rule from the data operands, else from A's. */
    private static Tensor dataGram(ConsumerRule.Linear byRule, Tensor x1, Tensor d1, Tensor x2, Tensor d2,
                                   OutputPairs pairs) {
        return byRule == null ? activationGram(x1, d1, x2, d2, pairs)
                : byRule.dataGram(x1, x2, pairs.perExample());
    }

    /**
     * Exact FLOPs of one parameter's block in {@code order}: {@link ContractionOrder#flops}, where {@code byRule}
     * ({@link #dataByRule}) forms the data Gram or the rows with its own FLOPs in place of the GEMM over C.
     */
    static double blockFlops(ContractionOrder order, ConsumerRule.Linear byRule, long n1, long n2, long o, long r,
                             long c, long f, OutputPairs pairs, boolean same) {
        double flops = order.flops(n1, n2, o, r, c, f, pairs, same);
        if (byRule == null) {
            return flops;
        }
        if (order == ContractionOrder.ROWS) {
            return flops - rowFormationFlops(n1, n2, o, r, c, f, same) + byRule.rowsFlops(n1, o)
                    + (same ? 0 : byRule.rowsFlops(n2, o));
        }
        if (order == ContractionOrder.FACTORED) { // a one-hot's P as its nonzero columns, Q by their matches
            return OneHotFactored.rowsFlops(same ? n1 : n1 + n2, r, f)
                    + OneHotFactored.productFlops(n1, n2, r, f, pairs.perExample(), same)
                    + factoredCombineFlops(n1, n2, o, f, pairs, same);
        }
        return flops - activationGramFlops(n1, n2, r, c, pairs, same)
                + byRule.dataGramFlops(n1, same ? n1 : n2, pairs.perExample());
    }

    /**
     * From this many outputs on, the full kernel's Gram order for a parameter not shared across positions (R = 1,
     * dense layers) runs as one GEMM per pair of examples, C += (s2·GA[n1,n2])·E1[n1]·E2[n2]ᵀ written in place
     * in the accumulator: the same multiply-adds as forming GD and combining it, without GD's N²O² temporary and
     * the passes over it. Below it the O × O GEMMs are too small for their call overhead. The rule depends on O
     * and R only, never on N, so a tile evaluates as the whole kernel does.
     */
    static final int PAIR_GEMMS_FROM_O = 128;

    /** Whether the full kernel's Gram order runs as one GEMM per pair of examples (see {@link #PAIR_GEMMS_FROM_O}). */
    static boolean pairGemms(long o, long r) {
        return r == 1 && o >= PAIR_GEMMS_FROM_O;
    }

    /** K = A1·A2ᵀ, then T = D1·K over r1 (batched over n1), then T·D2 over (r2, f) (batched over n2). */
    static Tensor sandwichOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, OutputPairs pairs) {
        return sandwichOrder(activationGram(a1, d1, a2, d2, pairs), d1, d2, pairs, a2 == a1 && d2 == d1);
    }

    /**
     * {@link #sandwichOrder} from the data Gram {@code gram} K [N1, R, N2, R] ([N, R, R] per example), which it
     * closes; {@code same}: both sides are one side with itself.
     */
    private static Tensor sandwichOrder(Tensor gram, Tensor d1, Tensor d2, OutputPairs pairs, boolean same) {
        if (pairs.perExample()) {
            try (Tensor k = gram; // [N, R, R]
                 // T[n, o, f, r2] = Σ_r1 D1[o, n, r1, f] K[n, r1, r2], batched over n
                 Tensor t = DotGeneralKernel.dot(d1, k, new int[] {2}, new int[] {1}, PER_EXAMPLE_BATCH,
                         EXAMPLE_AXIS)) {
                // [N, O, O] = Σ_{f, r2} T[n, o1, f, r2] D2[o2, n, r2, f], batched over n (traced: [N], o1 = o2
                // summed too)
                boolean traced = pairs == OutputPairs.PER_EXAMPLE_TRACE;
                return DotGeneralKernel.dot(t, d2, traced ? new int[] {1, 2, 3} : SANDWICH_PER_EXAMPLE_T,
                        traced ? new int[] {0, 3, 2} : SANDWICH_PER_EXAMPLE_D, EXAMPLE_AXIS, PER_EXAMPLE_BATCH);
            }
        }
        try (Tensor k = gram; // [N1,R,N2,R]
             // T[n1, o, f, n2, r2] = Σ_r1 D1[o, n1, r1, f] K[n1, r1, n2, r2]
             Tensor t = DotGeneralKernel.dot(d1, k, new int[] {2}, new int[] {1}, new int[] {1}, new int[] {0})) {
            if (pairs == OutputPairs.DIAGONAL) {
                // [N2, O, N1] = Σ_{f, r2} T[n1, o, f, n2, r2] D2[o, n2, r2, f], batched over (n2, o), written as
                // [N1, N2, O]
                return DotGeneralKernel.dot(t, d2, new int[] {2, 4}, new int[] {3, 2}, new int[] {3, 1},
                        new int[] {1, 0}, DIAGONAL_FROM_SANDWICH);
            }
            if (pairs == OutputPairs.TRACE) {
                // [N2, O, N1] = Σ_{f, r2} T[n1, o, f, n2, r2] D2[o, n2, r2, f], batched over (n2, o)
                try (Tensor u = DotGeneralKernel.dot(t, d2, new int[] {2, 4}, new int[] {3, 2}, new int[] {3, 1},
                        new int[] {1, 0});
                     Tensor s = org.ntk4j.cpu.Reduce.reduce(org.ntk4j.cpu.Reduce.Kind.SUM, u, new int[] {1})) {
                    return Layout.transpose(s, new int[] {1, 0});
                }
            }
            if (same) {
                return sandwichUpper(t, d2);
            }
            // Σ_{f, r2} T[n1, o1, f, n2, r2] D2[o2, n2, r2, f], batched over n2: logically [N2, N1, O, O], written
            // as [N1, O, N2, O] by the GEMMs themselves (each n2's block has row stride N2·O)
            return DotGeneralKernel.dot(t, d2, new int[] {2, 4}, new int[] {3, 2}, new int[] {3}, new int[] {1},
                    new int[] {1, 2, 0, 3});
        }
    }

    /** The axes (f, r2) of the per-example sandwich's T [N, O, F, R] its last product contracts. */
    static final int[] SANDWICH_PER_EXAMPLE_T = {2, 3};

    /** The axes of D [O, N, R, F] paired with {@link #SANDWICH_PER_EXAMPLE_T}. */
    static final int[] SANDWICH_PER_EXAMPLE_D = {3, 2};

    /** The Gram order's block on its own (for tests): zeros plus {@link #addGramOrder} with s2 = 1. */
    static Tensor gramOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, OutputPairs pairs) {
        Tensor out = Tensor.zeros(a1.dtype(), pairs.blockShape(a1.dim(0), a2.dim(0), d1.dim(0)));
        addGramOrder(out, 1.0, a1, d1, a2, d2, pairs);
        return out;
    }

    /**
     * The Gram order, accumulated: acc[n1, o1, n2, o2] += s2 · Σ_{r1,r2} GA[n1,r1,n2,r2] · GD[n1,o1,r1,n2,o2,r2]
     * with GA = A1·A2ᵀ over C and GD = D1·D2ᵀ over F (both GEMMs), or traced acc[n1, n2] += s2 · Σ_{r1,r2}
     * GA[n1,r1,n2,r2] · Σ_o GD[n1,o,r1,n2,o,r2] (one GEMM over (o, f)), or per output acc[n1, n2, o] += s2 ·
     * Σ_{r1,r2} GA[n1,r1,n2,r2] · GD[o,n1,r1,n2,r2] (one GEMM over f per o). The cotangents are first put
     * example-major, [N, O, R, F], so that GD comes out of its GEMM already in the kernel's [N1, O, ·, N2, O, ·]
     * order and the Hadamard product with GA, the sum over r and the accumulation are one pass over GD.
     */
    static void addGramOrder(Tensor acc, double s2, Tensor a1, Tensor d1, Tensor a2, Tensor d2, OutputPairs pairs) {
        addGramOrder(acc, s2, Double.NaN, a1, d1, a2, d2, pairs);
    }

    /** FLOPs of a shared bias in the Gram order: GA ← s_w·GA + s_b, two per element of GA [N1, R, N2, R]. */
    static double biasFlops(long n1, long n2, long r) {
        return 2.0 * n1 * r * n2 * r;
    }

    /**
     * {@link #addGramOrder} with a bias sharing the cotangent Gram ({@link #sharedBiasFactor}) when {@code sb}
     * is not NaN: acc += Σ_{r1,r2} (s2·GA + sb) ⊙ GD, the weight's and the bias's blocks at once.
     */
    static void addGramOrder(Tensor acc, double s2, double sb, Tensor a1, Tensor d1, Tensor a2, Tensor d2,
                             OutputPairs pairs) {
        // [N1,R,N2,R], or [N, R, R] per example
        addGramOrder(acc, s2, sb, activationGram(a1, d1, a2, d2, pairs), d1, d2, pairs, d2 == d1 && a2 == a1);
    }

    /**
     * {@link #addGramOrder} from the data Gram {@code gram} GA [N1, R, N2, R] ([N, R, R] per example), which it
     * closes; {@code upper}: both sides are one side with itself (the kernel's final mirror writes the blocks below
     * the example diagonal).
     */
    private static void addGramOrder(Tensor acc, double s2, double sb, Tensor gram, Tensor d1, Tensor d2,
                                     OutputPairs pairs, boolean upper) {
        int[] none = new int[0];
        int n1 = d1.dim(1);
        int r = d1.dim(2);
        int n2 = d2.dim(1);
        int o = d1.dim(0);
        if (!Double.isNaN(sb)) {
            double sw = s2;
            try (Tensor g = gram) {
                gram = Elementwise.map(g, v -> sw * v + sb);
            }
            s2 = 1;
        }
        // a side with itself: the blocks n1 ≤ n2 only, as in sandwichUpper; the kernel's final mirror of x1
        // with itself (KernelReduction.mirrorUpper) writes those below the example diagonal
        try (Tensor ga = gram) {
            if (pairs.perExample()) {
                // GD[n, o1, r1, o2, r2] = Σ_f D1[o1, n, r1, f] D2[o2, n, r2, f], batched over the examples, or
                // traced GD[n, r1, r2] = Σ_{o, f} D1[o, n, r1, f] D2[o, n, r2, f]
                int[] contract = perExampleContraction(pairs);
                try (Tensor gd = upper ? DotGeneralKernel.gram(d1, contract, PER_EXAMPLE_BATCH)
                        : DotGeneralKernel.dot(d1, d2, contract, contract, PER_EXAMPLE_BATCH, PER_EXAMPLE_BATCH)) {
                    GramCombine.combinePerExample(acc, s2, ga, gd, n1, pairs == OutputPairs.PER_EXAMPLE ? o : 1, r);
                }
                return;
            }
            if (pairs == OutputPairs.DIAGONAL) {
                // GD[o, n1, r1, n2, r2] = Σ_f D1[o, n1, r1, f] D2[o, n2, r2, f]: one Gram per output, read in
                // place; of a side with itself the symmetric products' upper triangles and [R] squares
                try (Tensor gd = upper ? DotGeneralKernel.gram(d1, PER_OUTPUT_CONTRACTION, PER_OUTPUT, r)
                        : DotGeneralKernel.dot(d1, d2, PER_OUTPUT_CONTRACTION, PER_OUTPUT_CONTRACTION, PER_OUTPUT,
                                PER_OUTPUT)) {
                    GramCombine.combinePerOutput(acc, s2, ga, gd, n1, o, r, n2, upper);
                }
                return;
            }
            if (pairs == OutputPairs.TRACE) {
                try (Tensor gd = upper ? tracedCotangentGram(d1)
                        : DotGeneralKernel.dot(d1, d2, new int[] {0, 3}, new int[] {0, 3}, none, none)) {
                    GramCombine.combine(acc, s2, ga, gd, n1, 1, r, n2, upper);
                }
                return;
            }
            int[] exampleMajor = {1, 0, 2, 3};
            if (pairGemms(o, r)) {
                // acc[n1, :, n2, :] += (s2 · GA[n1, n2]) · E1[n1] · E2[n2]ᵀ, E = cotangents [N, O, F]: one GEMM
                // per pair of examples writes (and accumulates) its O × O block in place, GD never formed
                int f = d1.dim(3);
                try (Tensor e1 = Layout.transpose(d1, exampleMajor);
                     Tensor e2 = d2 == d1 ? null : Layout.transpose(d2, exampleMajor)) {
                    Tensor b = e2 == null ? e1 : e2;
                    for (int i = 0; i < n1; i++) {
                        for (int j = upper ? i : 0; j < n2; j++) {
                            Blas.gemm(false, true, o, o, f, s2 * ga.getFlat(i * n2 + j), e1, (long) i * o * f, f,
                                    b, (long) j * o * f, f, 1.0, acc, ((long) i * o * n2 + j) * o, n2 * o);
                        }
                    }
                }
                return;
            }
            try (Tensor e1 = Layout.transpose(d1, exampleMajor);
                 Tensor e2 = d2 == d1 ? null : Layout.transpose(d2, exampleMajor);
                 // [N1, O, R, N2, O, R]: the cotangents' Gram with themselves when the sides are one tensor, of
                 // which the combination reads the upper triangle and the example diagonal's [O·R] squares
                 Tensor gd = upper ? DotGeneralKernel.gram(e1, new int[] {3}, none, o * r)
                         : DotGeneralKernel.dot(e1, e2 == null ? e1 : e2, new int[] {3}, new int[] {3}, none,
                                 none)) {
                GramCombine.combine(acc, s2, ga, gd, n1, o, r, n2, upper);
            }
        }
    }

    /** The axes of D [O, N, R, F] that the traced cotangent Gram contracts: the outputs and the features. */
    private static final int[] TRACED_CONTRACTION = {0, 3};

    /**
     * The traced cotangent Gram of one side with itself, GD[n1, r1, n2, r2] = Σ_{o, f} D[o, n1, r1, f] ·
     * D[o, n2, r2, f], exact in its upper triangle and the example diagonal's [R] squares (what
     * {@link GramCombine#combine} reads for a side with itself): a symmetric product of the rows (n, r) of D laid
     * out [N, R, O, F], about half the multiply-adds of the GEMM D·Dᵀ. D is transposed for it unless it already
     * reads so in place (one output); a Gram too small for the symmetric product is the GEMM, on D as it is.
     */
    private static Tensor tracedCotangentGram(Tensor d) {
        int[] none = new int[0];
        int r = d.dim(2);
        if (DotGeneralKernel.isSymmetricGram(d.shape(), TRACED_CONTRACTION, none)) {
            return DotGeneralKernel.gram(d, TRACED_CONTRACTION, none, r);
        }
        if (!DotGeneralKernel.isSymmetricGram(Shapes.permute(d.shape(), ROWS_MAJOR), ROWS_MAJOR_CONTRACTION, none)) {
            return DotGeneralKernel.dot(d, d, TRACED_CONTRACTION, TRACED_CONTRACTION, none, none);
        }
        try (Tensor rows = Layout.transpose(d, ROWS_MAJOR)) {
            return DotGeneralKernel.gram(rows, ROWS_MAJOR_CONTRACTION, none, r);
        }
    }

    /** D [O, N, R, F] as [N, R, O, F]: the rows (n, r) of the traced cotangent Gram, then its contraction. */
    private static final int[] ROWS_MAJOR = {1, 2, 0, 3};

    /** The axes of D as {@link #ROWS_MAJOR} that the traced cotangent Gram contracts. */
    private static final int[] ROWS_MAJOR_CONTRACTION = {2, 3};

    /**
     * Elements of the scratch the per-output cotangent Grams take besides their [O, N1, R, N2, R] result: the
     * batched GEMM's copies of D1 and D2 in its layout, or none for a side with itself whose Grams are symmetric
     * products read in place.
     */
    static long perOutputCotangentGramScratch(long n1, long n2, long o, long r, long f, boolean same) {
        int[] d1 = {(int) o, (int) n1, (int) r, (int) f};
        if (same && DotGeneralKernel.isSymmetricGram(d1, PER_OUTPUT_CONTRACTION, PER_OUTPUT)) {
            return 0;
        }
        return DotGeneralKernel.scratchElements(d1, new int[] {(int) o, (int) (same ? n1 : n2), (int) r, (int) f},
                PER_OUTPUT_CONTRACTION, PER_OUTPUT_CONTRACTION, PER_OUTPUT, PER_OUTPUT);
    }

    /**
     * Elements of the scratch the per-example cotangent Grams take besides their [N, O, R, O, R] (traced:
     * [N, R, R]) result: the batched product's copies of D1 and D2 (D [O, N, R, F] is not laid out example-major),
     * or none where a side with itself reads in place.
     */
    static long perExampleCotangentGramScratch(long n, long o, long r, long f, OutputPairs pairs, boolean same) {
        int[] d = {(int) o, (int) n, (int) r, (int) f};
        int[] contract = perExampleContraction(pairs);
        return same ? DotGeneralKernel.gramScratchElements(d, contract, PER_EXAMPLE_BATCH)
                : DotGeneralKernel.scratchElements(d, d, contract, contract, PER_EXAMPLE_BATCH, PER_EXAMPLE_BATCH);
    }

    /**
     * Elements of the scratch the traced cotangent Gram takes besides its [N1, R, N2, R] result: the GEMM's copies
     * of D1 and D2 in its layout, or for a side with itself ({@code same}) none when D reads as the symmetric
     * product's rows in place, D's transpose when it is transposed for it, the GEMM's copies when it is too small.
     */
    static long tracedCotangentGramScratch(long n1, long n2, long o, long r, long f, boolean same) {
        int[] none = new int[0];
        int[] d1 = {(int) o, (int) n1, (int) r, (int) f};
        if (same && DotGeneralKernel.isSymmetricGram(d1, TRACED_CONTRACTION, none)) {
            return 0;
        }
        if (same && DotGeneralKernel.isSymmetricGram(Shapes.permute(d1, ROWS_MAJOR), ROWS_MAJOR_CONTRACTION, none)) {
            return o * n1 * r * f;
        }
        return DotGeneralKernel.scratchElements(d1, new int[] {(int) o, (int) (same ? n1 : n2), (int) r, (int) f},
                TRACED_CONTRACTION, TRACED_CONTRACTION, none, none);
    }

    /**
     * The sandwich's last product for one side with itself: out[n1, o1, n2, o2] = Σ_{f, r2} T[n1, o1, f, n2, r2]
     * D[o2, n2, r2, f] for n1 ≤ n2 only, zero below the example diagonal, which the kernel's final mirror of x1
     * with itself writes ({@link KernelReduction#mirrorUpper}): per n2 the rows n1 ≤ n2 of T are gathered as
     * [(n1, o1), (r2, f)] and multiplied by D's block for n2, written in place — N(N+1)·O²·R·F FLOPs instead of
     * 2N²·O²·R·F ({@link #sandwichFlops}).
     */
    static Tensor sandwichUpper(Tensor t, Tensor d) {
        int n = t.dim(0);
        int o = t.dim(1);
        int f = t.dim(2);
        int r = t.dim(4);
        int rf = r * f;
        Tensor out = Tensor.zeros(t.dtype(), n, o, n, o);
        try (Tensor a = Tensor.empty(t.dtype(), n * o, rf)) {
            int[] from = {o * f * n * r, f * n * r, 1, n * r}; // T's strides over (n1, o1, r2, f) at a fixed n2
            int[] to = {o * rf, rf, f, 1};
            for (int n2 = 0; n2 < n; n2++) {
                Layout.stridedCopy(t, n2 * r, from, a, 0, to, new int[] {n2 + 1, o, r, f});
                Blas.gemm(false, true, (n2 + 1) * o, o, rf, 1.0, a, 0, rf, d, (long) n2 * rf, n * rf, 0.0, out,
                        (long) n2 * o, n * o);
            }
        }
        return out;
    }

    /**
     * The per-example rows J [N, O, F, C] of each side, then their contraction over (F, C) (and O for the trace;
     * batched over O, written as [N1, N2, O], for the per-output diagonal):
     * with one tensor for both sides the Gram, about half the multiply-adds ({@link DotGeneralKernel#gram}). The
     * rows are written with (F, C) innermost, so that either contraction reads them in place.
     */
    static Tensor rowOrder(Tensor a1, Tensor d1, Tensor a2, Tensor d2, OutputPairs pairs) {
        return rowOrder(null, a1, d1, a2, d2, pairs);
    }

    /**
     * {@link #rowOrder}, with the rows formed by {@code byRule} from the data operands {@code x1}, {@code x2}
     * ({@link ConsumerRule.Linear#rows(Tensor, Tensor)}) where it is not null, else from the data factors A.
     */
    private static Tensor rowOrder(ConsumerRule.Linear byRule, Tensor x1, Tensor d1, Tensor x2, Tensor d2,
                                   OutputPairs pairs) {
        boolean one = x2 == x1 && d2 == d1;
        try (Tensor j1 = byRule == null ? rows(x1, d1) : byRule.rows(x1, d1);
             Tensor j2 = one ? null : byRule == null ? rows(x2, d2) : byRule.rows(x2, d2)) {
            int[] contract = rowContraction(pairs);
            int[] batch = rowBatch(pairs);
            if (pairs == OutputPairs.DIAGONAL) { // [O, N1, N2] written as [N1, N2, O]
                return DotGeneralKernel.dot(j1, j2 == null ? j1 : j2, contract, contract, batch, batch,
                        DIAGONAL_FROM_ROWS);
            }
            // [N1, O, N2, O], traced [N1, N2], per example [N, O, O] or traced [N]
            return j2 == null ? DotGeneralKernel.gram(j1, contract, batch)
                    : DotGeneralKernel.dot(j1, j2, contract, contract, batch, batch);
        }
    }

    /** The axes of the rows J [N, O, F, C] the row order contracts: (F, C), and O too for the trace. */
    static int[] rowContraction(OutputPairs pairs) {
        return pairs == OutputPairs.TRACE || pairs == OutputPairs.PER_EXAMPLE_TRACE ? new int[] {1, 2, 3}
                : new int[] {2, 3};
    }

    /**
     * The axes of per-example rows [N, O, ...] (the row order's J [N, O, F, C], the dense rows [N, O, P]) a
     * contraction batches: O for the per-output diagonal, N for each example with itself, else none.
     */
    static int[] rowBatch(OutputPairs pairs) {
        return pairs == OutputPairs.DIAGONAL ? new int[] {1} : pairs.perExample() ? new int[] {0} : new int[0];
    }

    /** A per-output product's logical [O, N1, N2] written as the diagonal kernel's [N1, N2, O]. */
    static final int[] DIAGONAL_FROM_ROWS = {1, 2, 0};

    /** The sandwich's last product's logical [N2, O, N1] written as the diagonal kernel's [N1, N2, O]. */
    static final int[] DIAGONAL_FROM_SANDWICH = {2, 0, 1};

    /** The rows' layout ({@link ConsumerRule.Linear#rowsLayout}: [N, O, F, C]). */
    static final int[] ROWS_LAYOUT = ConsumerRule.Linear.rowsLayout();

    /** J[n, o, f, c] = Σ_r A[n, r, c] D[o, n, r, f] ({@link ConsumerRule.Linear#productRows}). */
    private static Tensor rows(Tensor a, Tensor d) {
        return ConsumerRule.Linear.productRows(a, d);
    }
}
