package org.ntk4j.ntk;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The shared mechanism under the exact methods, for a network whose examples are independent: one forward
 * pass and one backward pass with K = O stacked cotangents e_o (the same on every example) give, at every
 * parameter consumer y = g(p', a), the per-example cotangents δ[o, n] = ∂f_o(x_n)/∂y_n and the operand values.
 * Jacobian contraction turns them into per-example rows of ∂f/∂θ; structured derivatives contracts them
 * directly.
 */
final class PerExamplePass implements AutoCloseable {
    final SidePlan side;
    final ParameterConsumers pc;
    final int n;
    final int o;
    final int[] f;
    private final SidePlan.Pass plan;
    private final Tensor[] values;
    private final Tensor[] params;
    /** The graph's inputs (parameters, x) by variable: operands read as they are, not copied out of the pass. */
    private final Map<Var, Tensor> inputValues = new IdentityHashMap<>();

    PerExamplePass(SidePlan side, Tensor[] params, Tensor x) {
        this(side, params, x, 0, side.o);
    }

    /**
     * The pass for the outputs [from, from + k) only (an output chunk, {@link OutputChunks}): K = k stacked
     * cotangents e_{from + i}, so every δ is [k, N, ...] and {@link #o} is k.
     */
    PerExamplePass(SidePlan side, Tensor[] params, Tensor x, int from, int k) {
        this(side, params, x, from, k, SidePlan.NO_CONSUMERS);
    }

    /**
     * The pass for the outputs [from, from + k) without the cotangents at the consumers {@code unread} (indices),
     * which the caller's plan does not read ({@link SdPlan#unreadCotangents}): {@link #delta} refuses them.
     */
    PerExamplePass(SidePlan side, Tensor[] params, Tensor x, int from, int k, int[] unread) {
        this.side = side;
        this.pc = side.pc;
        this.params = params;
        Graph g = pc.graph;
        this.n = x.dim(0);
        this.f = side.f;
        this.o = k;
        for (int i = 0; i < params.length; i++) {
            inputValues.put(g.inputs().get(i), params[i]);
        }
        inputValues.put(g.inputs().get(params.length), x);
        this.plan = side.pass(k, unread);
        Tensor[] args = java.util.Arrays.copyOf(params, params.length + 2);
        args[params.length] = x;
        try (Tensor basis = sharedBasis(x.dtype(), from, k, side.o, n, f)) {
            args[params.length + 1] = basis;
            values = plan.graph.evaluate(args);
        }
    }

    /**
     * [k] + f with c[i, n, o'] = δ(from + i, o') for every example n: output e_{from + i} on all examples at once.
     */
    private static Tensor sharedBasis(DType dt, int from, int k, int o, int n, int[] f) {
        Tensor t = Tensor.zeros(dt, Shapes.prepend(k, f));
        for (int oo = 0; oo < k; oo++) {
            for (int ex = 0; ex < n; ex++) {
                t.setFlat((oo * n + ex) * o + from + oo, 1.0);
            }
        }
        return t;
    }

    /** δ at the consumer's output: [O] + shape(y), axis 1 the examples. */
    Tensor delta(ParameterConsumers.Consumer c) {
        return values[plan.cotangentValue(c.equation.output())];
    }

    /**
     * The factors of the stacked cotangent at the consumer's output, D[k, n, r, f] = M[n, r, f] · G[k, n, f]
     * ({@link CotangentFactors}): {M [N, R, F], G [K, N, F]}, which the caller closes (M may be a read view of the
     * pass's value, valid while the pass is open); null when that cotangent does not factor. Their products'
     * FLOPs are counted here.
     */
    Tensor[] cotangentFactors(ParameterConsumers.Consumer c) {
        SidePlan.Pass.Factored f = plan.factored(c.equation.output());
        if (f == null) {
            return null;
        }
        CotangentFactors cf = f.factors();
        Tensor[] all = new Tensor[f.values().length]; // the examples' factors, then the outputs'
        for (int i = 0; i < all.length; i++) {
            all[i] = values[f.values()[i]];
        }
        Tensor[] ex = java.util.Arrays.copyOfRange(all, 0, cf.examples.size());
        Tensor[] out = java.util.Arrays.copyOfRange(all, cf.examples.size(), all.length);
        org.ntk4j.graph.FlopCount.add(cf.formationFlops());
        int r = cf.positions();
        int fs = cf.features();
        Tensor m = CotangentFactors.product(cf.examples, ex, cf.examplesShape(), new int[] {n, r, fs});
        try {
            return new Tensor[] {m, CotangentFactors.product(cf.outputs, out, cf.outputsShape(), new int[] {o, n, fs})};
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The value of an operand of a consumer equation (a constant's value for constants, the argument for inputs). */
    Tensor operand(Var v) {
        Tensor t = pc.graph.constants().get(v);
        if (t == null) {
            t = inputValues.get(v);
        }
        return t != null ? t : values[plan.operandValue(v)];
    }

    /**
     * The rows of every example by the consumer's own VJP rule, one example at a time: works for every primitive.
     */
    Tensor loopRows(ParameterConsumers.Consumer cons) {
        return loopRows(cons, 0, n);
    }

    /**
     * Per-example rows of ∂f/∂p' at one consumer for the examples [from, to), [O, to - from] + shape(p'): written
     * directly for a dense consumer ({@link #directRows}), else the consumer's own parameter-VJP rule applied to
     * δ[:, n] and the operands of example n alone, for each n.
     */
    Tensor rows(ParameterConsumers.Consumer cons, int from, int to) {
        Tensor direct = structuredRows(cons, from, to);
        return direct != null ? direct : loopRows(cons, from, to);
    }

    /** {@link #loopRows(ParameterConsumers.Consumer)} for the examples [from, to). */
    Tensor loopRows(ParameterConsumers.Consumer cons, int from, int to) {
        Graph g = pc.graph;
        Equation e = cons.equation;
        Graph mini = side.rowGraph(cons, o);
        boolean[] sliced = new boolean[e.inputs().size()];
        for (int i = 0; i < sliced.length; i++) {
            sliced[i] = pc.exampleDependent.contains(e.input(i));
        }
        Var pv = cons.parameterValue();
        int psize = pv.size();
        int nt = to - from;
        Tensor delta = delta(cons);
        Tensor rows = Tensor.empty(delta.dtype(), Shapes.concat(new int[] {o, nt}, pv.shape()));
        long elementBytes = delta.dtype().bytes();
        for (int ex = from; ex < to; ex++) {
            Tensor[] args = new Tensor[mini.inputs().size()];
            boolean[] owned = new boolean[args.length];
            int a = 0;
            for (int i = 0; i < sliced.length; i++) {
                if (g.constants().containsKey(e.input(i))) {
                    continue;
                }
                Tensor full = operand(e.input(i));
                owned[a] = sliced[i];
                args[a++] = sliced[i] ? Layout.sliceAxis(full, 0, ex, ex + 1) : full;
            }
            owned[a] = true;
            args[a] = Layout.sliceAxis(delta, 1, ex, ex + 1);
            Tensor[] res = mini.evaluate(args);
            // res[0] is [O] + shape(p'): row oo goes to rows[oo, ex - from, ...], psize contiguous elements
            for (int oo = 0; oo < o; oo++) {
                org.bytedeco.javacpp.Pointer.memcpy(
                        rows.pointer().getPointer(((long) oo * nt + (ex - from)) * psize),
                        res[0].pointer().getPointer((long) oo * psize), (long) psize * elementBytes);
            }
            res[0].close();
            for (int i = 0; i < args.length; i++) {
                if (owned[i]) {
                    args[i].close();
                }
            }
        }
        return rows;
    }

    /**
     * The rows of a dot_general consumer with a structure rule (a dense layer, or a dense map over positions)
     * whose parameter is laid out [contracting axes..., free axes...] (e.g. W [in, out] of x·W), written in place:
     * rows[o, n] = A[n]ᵀ · D[o, n] (C × R times R × F), one GEMM per (o, n) straight into the result, the
     * product the consumer's generic VJP rule forms but without its [O, F, C] → [O, C, F] transpose of every row.
     * Null for any other consumer.
     */
    private Tensor structuredRows(ParameterConsumers.Consumer cons, int from, int to) {
        if (!directRows(pc, cons)) {
            return null;
        }
        Var pv = cons.parameterValue();
        int nt = to - from;
        try (Tensor a = StructuredDerivatives.data(this, cons); // [N, R, C]
             Tensor dl = StructuredDerivatives.cotangent(this, cons)) { // [O, N, R, F]
            int r = a.dim(1);
            int c = a.dim(2);
            int fo = dl.dim(3);
            if ((long) c * fo != pv.size()) {
                return null;
            }
            Tensor rows = Tensor.empty(a.dtype(), Shapes.concat(new int[] {o, nt}, pv.shape()));
            // counted as the consumer's one-example row graph nt times, as the cost model predicts the rows
            org.ntk4j.graph.FlopCount.add(nt * org.ntk4j.graph.GraphCost.flops(side.rowGraph(cons, o)));
            if (r == 1) {
                outerRows(a, dl, rows, from, nt, c, fo);
                return rows;
            }
            for (int ex = from; ex < to; ex++) {
                for (int oo = 0; oo < o; oo++) {
                    Blas.gemm(true, false, c, fo, r, 1.0, a, (long) ex * r * c, c, dl, ((long) oo * n + ex) * r * fo,
                            fo, 0.0, rows, ((long) oo * nt + (ex - from)) * c * fo, fo);
                }
            }
            return rows;
        }
    }

    /**
     * True when the rows of {@code cons} can be written directly: a linear consumer rule whose data factor is the
     * data operand rearranged (dot_general), its data operand per example, its parameter laid out [data axes...,
     * feature axes...].
     */
    static boolean directRows(ParameterConsumers pc, ParameterConsumers.Consumer cons) {
        ConsumerRule.Linear rule = cons.linear();
        Var data = cons.dataValue();
        // only where the data factor A [N, R, C] rearranges the data operand (a dense map): a conv's im2col
        // patches are KH·KW times its input, too large to form for all examples at once; its rows go one example
        // at a time through its own VJP rule
        return rule != null && rule.rowMajor() && pc.exampleDependent.contains(data)
                && (long) data.dim(0) * rule.positions() * rule.fanIn() == data.size();
    }

    /**
     * A parameter consumed as it is, by one dense consumer (one position per example): its Jacobian row for
     * output o of example n is a[n] ⊗ δ[o, n], C × F with C the fan-in.
     */
    static final class Dense {
        final ParameterConsumers.Consumer consumer;
        final int c;
        final int f;

        private Dense(ParameterConsumers.Consumer consumer, int c, int f) {
            this.consumer = consumer;
            this.c = c;
            this.f = f;
        }
    }

    /** Parameter {@code p}'s dense form, or null when it has none. */
    static Dense denseForm(ParameterConsumers pc, int p) {
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, List.of(p));
        if (cons.size() != 1 || cons.get(0).parameterValue() != pc.params.get(p) || !directRows(pc, cons.get(0))) {
            return null;
        }
        ParameterConsumers.Consumer c = cons.get(0);
        ConsumerRule.Linear rule = c.linear();
        long cSize = rule.fanIn();
        if (rule.positions() != 1 || cSize == 0) {
            return null;
        }
        return new Dense(c, (int) cSize, (int) (c.parameterValue().size() / cSize));
    }

    /**
     * The Jacobian of a parameter of dense form restricted to rows [i0, i1) of its C × F layout, i.e. the
     * contiguous flat range [i0·F, i1·F): shape f + [(i1 - i0)·F], J[n, o, (i - i0)·F + j] = a[n, i] · δ[o, n, j],
     * written in this example-major layout directly. With [i0, i1) = [0, C) it equals {@link #jacobians}' result.
     */
    Tensor denseJacobian(Dense form, int i0, int i1) {
        int ci = i1 - i0;
        int fo = form.f;
        int c = form.c;
        try (Tensor a = StructuredDerivatives.data(this, form.consumer); // [N, 1, C]
             Tensor dl = StructuredDerivatives.cotangent(this, form.consumer)) { // [O, N, 1, F]
            Tensor j = Tensor.empty(a.dtype(), Shapes.concat(f, new int[] {ci * fo}));
            boolean f32 = j.dtype() == DType.F32;
            Parallel.range(n * o * ci, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, fo)), (lo, hi) -> {
                int cached = -1;
                if (f32) {
                    java.nio.FloatBuffer av = a.floats();
                    java.nio.FloatBuffer dv = dl.floats();
                    java.nio.FloatBuffer out = j.floats();
                    float[] drow = new float[fo];
                    float[] tmp = new float[fo];
                    for (int u = lo; u < hi; u++) {
                        int pair = u / ci; // ex * o + oo
                        int ex = pair / o;
                        if (pair != cached) {
                            dv.get(((pair % o) * n + ex) * fo, drow, 0, fo);
                            cached = pair;
                        }
                        float s = av.get(ex * c + i0 + u % ci);
                        for (int q = 0; q < fo; q++) {
                            tmp[q] = s * drow[q];
                        }
                        out.put(u * fo, tmp, 0, fo);
                    }
                } else {
                    java.nio.DoubleBuffer av = a.doubles();
                    java.nio.DoubleBuffer dv = dl.doubles();
                    java.nio.DoubleBuffer out = j.doubles();
                    double[] drow = new double[fo];
                    double[] tmp = new double[fo];
                    for (int u = lo; u < hi; u++) {
                        int pair = u / ci;
                        int ex = pair / o;
                        if (pair != cached) {
                            dv.get(((pair % o) * n + ex) * fo, drow, 0, fo);
                            cached = pair;
                        }
                        double s = av.get(ex * c + i0 + u % ci);
                        for (int q = 0; q < fo; q++) {
                            tmp[q] = s * drow[q];
                        }
                        out.put(u * fo, tmp, 0, fo);
                    }
                }
            });
            return j;
        }
    }

    /**
     * rows[o, n - from, i, j] = A[n, 0, i] · D[o, n, 0, j] for one position (R = 1, a dense layer): each row of F
     * products formed in a small array and stored with one bulk copy, rows split over the cores. The same
     * products (each one rounded multiplication) as a GEMM with K = 1, which OpenBLAS runs at a fraction of
     * memory bandwidth.
     */
    private void outerRows(Tensor a, Tensor dl, Tensor rows, int from, int nt, int c, int fo) {
        int total = o * nt * c;
        boolean f32 = rows.dtype() == DType.F32;
        Parallel.range(total, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, fo)), (lo, hi) -> {
            int cached = -1;
            if (f32) {
                java.nio.FloatBuffer av = a.floats();
                java.nio.FloatBuffer dv = dl.floats();
                java.nio.FloatBuffer out = rows.floats();
                float[] drow = new float[fo];
                float[] tmp = new float[fo];
                for (int u = lo; u < hi; u++) {
                    int pair = u / c; // oo * nt + (ex - from)
                    int ex = from + pair % nt;
                    if (pair != cached) {
                        dv.get((pair / nt * n + ex) * fo, drow, 0, fo);
                        cached = pair;
                    }
                    float s = av.get(ex * c + u % c);
                    for (int j = 0; j < fo; j++) {
                        tmp[j] = s * drow[j];
                    }
                    out.put(u * fo, tmp, 0, fo);
                }
            } else {
                java.nio.DoubleBuffer av = a.doubles();
                java.nio.DoubleBuffer dv = dl.doubles();
                java.nio.DoubleBuffer out = rows.doubles();
                double[] drow = new double[fo];
                double[] tmp = new double[fo];
                for (int u = lo; u < hi; u++) {
                    int pair = u / c;
                    int ex = from + pair % nt;
                    if (pair != cached) {
                        dv.get((pair / nt * n + ex) * fo, drow, 0, fo);
                        cached = pair;
                    }
                    double s = av.get(ex * c + u % c);
                    for (int j = 0; j < fo; j++) {
                        tmp[j] = s * drow[j];
                    }
                    out.put(u * fo, tmp, 0, fo);
                }
            }
        });
    }

    /**
     * Per-parameter Jacobians f.shape + [size(θ_p)] for the parameters {@code selected} (indices into the
     * graph's parameter inputs): the rows of their consumers pushed through a stacked VJP of the
     * example-independent path θ → p'.
     */
    Tensor[] jacobians(List<Integer> selected) {
        return jacobians(selected, 0, n);
    }

    /**
     * {@link #jacobians(List)} for the examples [from, to) only: each result has the shape of f with its batch
     * axis {@code to - from}, plus [size(θ_p)] ([to - from, k, size(θ_p)] for the pass of an output chunk of k).
     */
    Tensor[] jacobians(List<Integer> selected, int from, int to) {
        int nt = to - from;
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, selected);
        Tensor[] j = new Tensor[selected.size()];
        if (selected.size() == 1 && cons.size() == 1
                && cons.get(0).parameterValue() == pc.params.get(selected.get(0))) {
            // the parameter is consumed as it is: its rows are its Jacobian
            j[0] = toExampleMajor(rows(cons.get(0), from, to), nt);
            return j;
        }
        Graph back = side.pathVjp(cons, selected, o * nt);
        int[] pathParams = ParameterPaths.pathParameters(pc, cons, selected);
        Tensor[] args = new Tensor[pathParams.length + cons.size()];
        for (int i = 0; i < pathParams.length; i++) {
            args[i] = params[pathParams[i]];
        }
        for (int c = 0; c < cons.size(); c++) {
            args[pathParams.length + c] = rows(cons.get(c), from, to)
                    .reshapeMove(Shapes.prepend(o * nt, cons.get(c).parameterValue().shape()));
        }
        Tensor[] res = back.evaluate(args);
        for (int c = 0; c < cons.size(); c++) {
            args[pathParams.length + c].close();
        }
        for (int i = 0; i < j.length; i++) {
            j[i] = toExampleMajor(res[cons.size() + i], nt); // [O·nt] + θ shape, rows ordered (o, n)
        }
        for (int c = 0; c < cons.size(); c++) {
            res[c].close();
        }
        return j;
    }

    /**
     * Rows ordered (o, n) over nt examples with any trailing shape, to f.shape (batch nt) + [size], or, for an
     * output chunk (o below the side's outputs), to [nt, o, size]; consumes its argument.
     */
    private Tensor toExampleMajor(Tensor rows, int nt) {
        int size = rows.size() / (o * nt);
        // a chunk's k outputs are not f's trailing shape (which has all O of them): [nt, k]
        int[] ft = o == side.o ? f.clone() : new int[] {nt, o};
        ft[0] = nt;
        try (Tensor onp = rows.reshapeMove(o, nt, size)) {
            return Layout.transpose(onp, new int[] {1, 0, 2}).reshapeMove(Shapes.concat(ft, new int[] {size}));
        }
    }

    /**
     * Bytes of the largest single tensor that {@link #jacobians(List, int, int)} forms per example for
     * parameter {@code p}: O times the largest of θ_p, the consumers' p' and every value on the path θ → p'.
     */
    static long bytesPerExample(ParameterConsumers pc, int o, int p, DType dtype) {
        long largest = Shapes.size(pc.params.get(p).shape());
        List<ParameterConsumers.Consumer> cons = pc.consumersOf(p);
        for (ParameterConsumers.Consumer c : cons) {
            largest = Math.max(largest, c.parameterValue().size());
        }
        for (Equation e : ParameterPaths.pathEquations(pc, cons)) {
            largest = Math.max(largest, e.output().size());
        }
        return (long) o * largest * dtype.bytes();
    }

    /** Bytes the pass holds (its forward values and cotangents at the consumers). */
    long bytes() {
        long b = 0;
        for (Tensor t : values) {
            b += t.bytes();
        }
        return b;
    }

    @Override
    public void close() {
        for (Tensor t : values) {
            t.close();
        }
    }
}
