package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * The cost of each exact method for given shapes, computed before anything runs from the very graphs the
 * method would evaluate (shapes are static): FLOPs exactly ({@link GraphCost#flops} plus the contractions),
 * peak bytes as the largest set of tensors held at once in the method's phases (graph evaluations simulated
 * by {@link GraphCost#peakBytes}, the Jacobians, cotangents and kernel held between them). Kernel-internal
 * scratch (transposed GEMM operands, im2col chunks of at most 16-32 MiB) is not counted.
 */
public final class CostModel {
    /** One method's predicted cost. */
    public static final class Estimate {
        private final Method method;
        private final double flops;
        private final long peakBytes;
        private final String note;
        private final double contractionFlops;

        Estimate(Method method, double flops, double contractionFlops, long peakBytes, String note) {
            this.method = method;
            this.flops = flops;
            this.contractionFlops = contractionFlops;
            this.peakBytes = peakBytes;
            this.note = note;
        }

        /**
         * The part of {@link #flops()} that forms the N1 × N2 kernel from per-example quantities (the second
         * term of the reference's cost table); the rest builds Jacobians or cotangents. NTK-vector products
         * have no such split: their N1·N2 work is the JVP itself, reported here in full.
         *
         * @return the contraction FLOPs; +∞ when the method cannot run on these shapes in one piece
         */
        public double contractionFlops() {
            return contractionFlops;
        }

        /**
         * The method estimated.
         *
         * @return one of the three exact methods, never AUTO
         */
        public Method method() {
            return method;
        }

        /**
         * Total floating-point operations the method performs, counted exactly from its graphs and contractions.
         *
         * @return the FLOPs; +∞ when the method cannot run on these shapes in one piece (a tensor it would form
         *     exceeds what one tensor holds)
         */
        public double flops() {
            return flops;
        }

        /**
         * Peak bytes of tensors the method holds at once (kernel-internal scratch not counted).
         *
         * @return the peak in bytes; {@link Long#MAX_VALUE} when the method cannot run on these shapes in one
         *     piece
         */
        public long peakBytes() {
            return peakBytes;
        }

        /**
         * How the method runs here (e.g. which parameters take the structured path).
         *
         * @return a one-line description, or why the method cannot run on these shapes
         */
        public String note() {
            return note;
        }
    }

    private final Model model;
    private final int[] perExample;
    private final DType dtype;
    private final int n1;
    private final int n2;
    private final boolean same;
    private final KernelAxes axes;
    private final int[] f1;
    private final int[] f2;
    private final int nParams;
    private final long paramBytes;
    private final long tileBytes;
    /** Each method's estimate, computed on first request (the graphs come from the cached {@link SidePlan}s). */
    private final java.util.Map<Method, Estimate> estimated = new java.util.EnumMap<>(Method.class);

    /**
     * Costs for x1 of n1 examples and x2 of n2 (n2 = 0: x2 = x1) with the given axis semantics. Traces the
     * model (no tensors are evaluated); the estimates themselves are computed on first request and cached.
     *
     * @param model the network
     * @param perExample shape of one example, without the batch axis (copied)
     * @param dtype element type the kernel would be computed in
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param traceAxes axes of f(x) traced over, as in {@link EmpiricalNtk#traceAxes}
     * @param diagonalAxes axes of f(x) whose diagonal alone is kept, as in {@link EmpiricalNtk#diagonalAxes}
     * @throws IllegalArgumentException if n1 &lt; 1 or n2 &lt; 0, or the axes are out of range, repeated, both
     *     traced and diagonal, or f(x1) and f(x2) differ on a traced or diagonal axis (a diagonal example
     *     axis needs n1 = n2)
     */
    public CostModel(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes,
                     int[] diagonalAxes) {
        this(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, Tiles.MAX_TENSOR_BYTES);
    }

    /** The same, for methods that tile their work at {@code tileBytes} (see {@link EmpiricalNtk}). */
    CostModel(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes, int[] diagonalAxes,
              long tileBytes) {
        this.tileBytes = tileBytes;
        if (n1 < 1 || n2 < 0) {
            throw new IllegalArgumentException("cost model: n1 must be >= 1 and n2 >= 0 (0: x2 = x1), got " + n1
                    + " and " + n2);
        }
        this.model = model;
        this.perExample = perExample.clone();
        this.dtype = dtype;
        this.n1 = n1;
        this.same = n2 == 0;
        this.n2 = same ? n1 : n2;
        int[] out = model.outputShape(perExample);
        this.f1 = Shapes.prepend(n1, out);
        this.f2 = Shapes.prepend(this.n2, out);
        this.axes = new KernelAxes(out.length + 1, traceAxes, diagonalAxes);
        axes.checkShapes(f1, f2);
        this.nParams = model.paramSpecs(perExample).size();
        long pb = 0;
        for (org.ntk4j.nn.ParamSpec s : model.paramSpecs(perExample)) {
            pb += (long) s.size() * dtype.bytes();
        }
        this.paramBytes = pb;
    }

    /** The cost models made by {@link #cached}, least recently used first (a bounded cache: they hold models). */
    private static final java.util.Map<java.util.List<Object>, CostModel> CACHE =
            new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(java.util.Map.Entry<java.util.List<Object>, CostModel> eldest) {
                    return size() > 64;
                }
            };

    /** The model as a key compared by identity (models have no value equality). */
    private record Identity(Model model) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Identity && ((Identity) o).model == model;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(model);
        }
    }

    /**
     * The cost model of these arguments, made once and reused (its estimates are cached in it): a repeated kernel,
     * a tile or AUTO's choice for the same problem walks no graph again.
     */
    static CostModel cached(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes,
                            int[] diagonalAxes, long tileBytes) {
        java.util.List<Object> key = java.util.List.of(new Identity(model), java.util.Arrays.toString(perExample),
                dtype, n1, n2, java.util.Arrays.toString(traceAxes), java.util.Arrays.toString(diagonalAxes),
                tileBytes);
        synchronized (CACHE) {
            CostModel c = CACHE.get(key);
            if (c == null) {
                c = new CostModel(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, tileBytes);
                CACHE.put(key, c);
            }
            return c;
        }
    }

    private long bytes(long elements) {
        return elements * dtype.bytes();
    }

    private long outputElements() {
        return Shapes.size(axes.outputShape(f1, f2));
    }

    private long totalParams() {
        return paramBytes / dtype.bytes();
    }

    /** FLOPs of contracting Jacobians of P columns into the kernel: 2 · |Θ| · traced size · P. */
    private double contractionFlops(long p) {
        return 2.0 * outputElements() * axes.traceSize(f1) * p;
    }

    /**
     * All three methods, in the order JC, VP, SD.
     *
     * @return a new list of the three estimates
     */
    public List<Estimate> estimates() {
        List<Estimate> r = new ArrayList<>();
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            r.add(estimate(m));
        }
        return r;
    }

    /**
     * One method's estimate (AUTO is not a method), computed on first request and then cached; a method that
     * cannot run on these shapes untiled gets infinite FLOPs and {@link Long#MAX_VALUE} peak bytes.
     *
     * @param m one of the three exact methods
     * @return the estimate
     * @throws IllegalArgumentException if {@code m} is AUTO
     */
    public synchronized Estimate estimate(Method m) {
        Estimate e = estimated.get(m);
        if (e == null) {
            e = estimateOnce(m);
            estimated.put(m, e);
        }
        return e;
    }

    private Estimate estimateOnce(Method m) {
        try {
            switch (m) {
                case JACOBIAN_CONTRACTION:
                    return jacobianContraction();
                case NTK_VECTOR_PRODUCTS:
                    return vectorProducts();
                case STRUCTURED_DERIVATIVES:
                    return structuredDerivatives();
                default:
                    throw new IllegalArgumentException("cost model: " + m + " is not a method");
            }
        } catch (IllegalArgumentException e) {
            if (m == Method.AUTO) {
                throw e;
            }
            // a value the method would form is larger than one tensor can hold: it cannot run untiled
            return new Estimate(m, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Long.MAX_VALUE,
                    "cannot run on these shapes in one piece: " + e.getMessage());
        }
    }

    /** The cached plan of one side of n examples: its graphs are the ones the methods evaluate. */
    private SidePlan side(int n) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    private SidePlan side(ParameterConsumers pc) {
        return side(pc.x.dim(0));
    }

    private Graph trace(int n) {
        return side(n).graph;
    }

    private ParameterConsumers consumers(int n) {
        return side(n).pc;
    }

    private boolean perExample(ParameterConsumers pc) {
        return model.independentExamples() && pc.exampleAxisFirst;
    }

    /** Cost of the Jacobians of one batch: {flops, peak bytes during their computation}. */
    private double[] jacobianCost(int n, List<Integer> selected, long heldBytes) {
        ParameterConsumers pc = consumers(n);
        long jBytes = 0;
        for (int p : selected) {
            jBytes += bytes((long) Shapes.size(pc.params.get(p).shape())) * Shapes.size(pc.graph.outputs().get(0)
                    .shape());
        }
        if (!perExample(pc)) {
            int k = Shapes.size(pc.graph.outputs().get(0).shape());
            Graph vjp = side(pc).vjp(k);
            return new double[] {GraphCost.flops(vjp), heldBytes + GraphCost.peakBytes(vjp)};
        }
        int o = Shapes.size(pc.graph.outputs().get(0).shape()) / n;
        Graph pass = side(pc).pass().graph;
        double flops = GraphCost.flops(pass);
        long passPeak = GraphCost.peakBytes(pass);
        long passValues = 0;
        for (org.ntk4j.graph.Var v : pass.outputs()) {
            passValues += GraphCost.bytes(v.type());
        }
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, selected);
        long rowBytes = 0;
        for (ParameterConsumers.Consumer c : cons) {
            flops += (double) n * GraphCost.flops(side(pc).rowGraph(c));
            rowBytes += bytes((long) o * n * c.parameterValue().size());
        }
        Graph path = side(pc).pathVjp(cons, selected, o * n);
        flops += GraphCost.flops(path);
        long peak = Math.max(heldBytes + passPeak, heldBytes + passValues + GraphCost.peakBytes(path));
        return new double[] {flops, Math.max(peak, heldBytes + passValues + rowBytes + jBytes)};
    }

    /**
     * Per-example rows of the consumers of {@code selected} and the path VJP to their Jacobians, all at once
     * (as {@link PerExamplePass#jacobians} does), the pass values already held: {flops, peak bytes}.
     */
    private double[] rowsAndPathCost(ParameterConsumers pc, int n, int o, List<Integer> selected, long held) {
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, selected);
        double flops = 0;
        long rowBytes = 0;
        for (ParameterConsumers.Consumer c : cons) {
            flops += (double) n * GraphCost.flops(side(pc).rowGraph(c));
            rowBytes += bytes((long) o * n * c.parameterValue().size());
        }
        long jBytes = 0;
        for (int p : selected) {
            jBytes += bytes((long) o * n * Shapes.size(pc.params.get(p).shape()));
        }
        Graph path = side(pc).pathVjp(cons, selected, o * n);
        flops += GraphCost.flops(path);
        long peak = held + Math.max(pathPeak(path, cons.size()), rowBytes) + 2 * jBytes;
        return new double[] {flops, peak};
    }

    private Estimate jacobianContraction() {
        List<Integer> all = new ArrayList<>();
        for (int p = 0; p < nParams; p++) {
            all.add(p);
        }
        long out = bytes(outputElements());
        ParameterConsumers pc1 = consumers(n1);
        if (!perExample(pc1)) {
            long pTotal = totalParams();
            long j1 = bytes((long) Shapes.size(f1) * pTotal);
            long j2 = same ? 0 : bytes((long) Shapes.size(f2) * pTotal);
            double[] a = jacobianCost(n1, all, 0);
            double flops = a[0];
            long peak = (long) a[1];
            if (!same) {
                double[] b = jacobianCost(n2, all, j1);
                flops += b[0];
                peak = Math.max(peak, (long) b[1]);
            }
            flops += contractionFlops(pTotal);
            peak = Math.max(peak, paramBytes + j1 + j2 + 2 * out);
            return new Estimate(Method.JACOBIAN_CONTRACTION, flops, contractionFlops(pTotal), peak,
                    "batch Jacobians: N·O one-hot cotangents (the model mixes examples)");
        }
        // per-example pass(es), then one parameter's Jacobians at a time
        int o = Shapes.size(f1) / n1;
        Graph pass1 = side(pc1).pass().graph;
        double flops = GraphCost.flops(pass1);
        long values = outputBytes(pass1);
        long peak = GraphCost.peakBytes(pass1);
        ParameterConsumers pc2 = same ? pc1 : consumers(n2);
        if (!same) {
            Graph pass2 = side(pc2).pass().graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2));
            values += outputBytes(pass2);
        }
        long held = paramBytes + values + 2 * out;
        int tiled = 0;
        int dense = 0;
        for (int p = 0; p < nParams; p++) {
            List<Integer> one = List.of(p);
            long size = Shapes.size(pc1.params.get(p).shape());
            long jp1 = bytes((long) Shapes.size(f1) * size);
            long jp2 = same ? 0 : bytes((long) Shapes.size(f2) * size);
            PerExamplePass.Dense d1 = PerExamplePass.denseForm(pc1, p);
            PerExamplePass.Dense d2 = same ? d1 : PerExamplePass.denseForm(pc2, p);
            if (d1 != null && d2 != null) {
                // Jacobian written directly (example-major), over chunks of fan-in rows if it must be tiled
                int[] chunks = Tiles.split(d1.c, (long) Math.max(n1, n2) * o * d1.f * dtype.bytes(), tileBytes);
                int widest = 0;
                for (int i = 0; i < Tiles.count(chunks); i++) {
                    widest = Math.max(widest, Tiles.size(chunks, i));
                }
                long partial = Tiles.count(chunks) > 1 ? out : 0; // the chunks' running sum
                long jc1 = bytes((long) Shapes.size(f1) * widest * d1.f);
                long jc2 = same ? 0 : bytes((long) Shapes.size(f2) * widest * d1.f);
                for (int side = 0; side < (same ? 1 : 2); side++) {
                    ParameterConsumers pc = side == 0 ? pc1 : pc2;
                    PerExamplePass.Dense d = side == 0 ? d1 : d2;
                    int n = side == 0 ? n1 : n2;
                    flops += (double) n * GraphCost.flops(side(pc).rowGraph(d.consumer));
                    long copies = bytes((long) n * d.c + (long) o * n * d.f); // data and cotangent, as [N,1,C], [O,N,1,F]
                    peak = Math.max(peak, held + partial + (side == 0 ? 0 : jc1) + copies + (side == 0 ? jc1 : jc2));
                }
                flops += contractionFlops(size);
                peak = Math.max(peak, held + partial + jc1 + jc2 + out);
                dense++;
                if (Tiles.count(chunks) > 1) {
                    tiled++;
                }
                continue;
            }
            int[] t1 = Tiles.split(n1, PerExamplePass.bytesPerExample(pc1, o, p, dtype), tileBytes);
            int[] t2 = same ? t1 : Tiles.split(n2, PerExamplePass.bytesPerExample(pc2, o, p, dtype), tileBytes);
            if (Tiles.count(t1) > 1 || Tiles.count(t2) > 1) {
                tiled++;
                boolean batchPaired = !axes.isTraced(0) && !axes.isDiagonal(0);
                int[] b2 = batchPaired ? t2 : t1;
                for (int side = 0; side < (same ? 1 : 2); side++) {
                    ParameterConsumers pc = side == 0 ? pc1 : pc2;
                    int[] t = side == 0 ? t1 : b2;
                    long other = side == 0 ? 0 : jp1;
                    List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, one);
                    boolean identity = cons.size() == 1 && cons.get(0).parameterValue() == pc.params.get(p);
                    for (int i = 0; i < Tiles.count(t); i++) {
                        int nt = Tiles.size(t, i);
                        long done = bytes((long) o * t[i] * size); // this side's earlier tiles, held
                        long jt = bytes((long) o * nt * size);
                        long rowBytes = 0;
                        for (ParameterConsumers.Consumer c : cons) {
                            flops += (double) nt * GraphCost.flops(side(pc).rowGraph(c));
                            rowBytes += bytes((long) o * nt * c.parameterValue().size());
                        }
                        if (identity) {
                            peak = Math.max(peak, held + other + done + rowBytes + jt);
                        } else {
                            Graph path = side(pc).pathVjp(cons, one, o * nt);
                            flops += GraphCost.flops(path);
                            peak = Math.max(peak, held + other + done + pathPeak(path, cons.size()) + jt);
                        }
                    }
                }
                long block = 0;
                for (int i = 0; i < Tiles.count(t1); i++) {
                    for (int j = 0; j < Tiles.count(b2); j++) {
                        int[] f1t = f1.clone();
                        f1t[0] = Tiles.size(t1, i);
                        int[] f2t = f2.clone();
                        f2t[0] = Tiles.size(b2, j);
                        block = Math.max(block, bytes(Shapes.size(axes.outputShape(f1t, f2t))));
                    }
                }
                flops += contractionFlops(size);
                peak = Math.max(peak, held + jp1 + jp2 + 2 * block); // every tile, a block and its zip copy
                continue;
            }
            for (int side = 0; side < (same ? 1 : 2); side++) {
                ParameterConsumers pc = side == 0 ? pc1 : pc2;
                int n = side == 0 ? n1 : n2;
                List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, one);
                long rowBytes = 0;
                for (ParameterConsumers.Consumer c : cons) {
                    flops += (double) n * GraphCost.flops(side(pc).rowGraph(c));
                    rowBytes += bytes((long) o * n * c.parameterValue().size());
                }
                long jp = side == 0 ? jp1 : jp2;
                long other = side == 0 ? 0 : jp1;
                boolean identity = cons.size() == 1 && cons.get(0).parameterValue() == pc.params.get(p);
                if (identity) {
                    peak = Math.max(peak, held + other + rowBytes + jp); // rows, then their transposed copy
                } else {
                    Graph path = side(pc).pathVjp(cons, one, o * n);
                    flops += GraphCost.flops(path);
                    peak = Math.max(peak, held + other + pathPeak(path, cons.size()) + jp);
                }
            }
            flops += contractionFlops(size);
            peak = Math.max(peak, held + jp1 + jp2 + out);
        }
        return new Estimate(Method.JACOBIAN_CONTRACTION, flops, contractionFlops(totalParams()), peak,
                "per-example Jacobians, one parameter at a time (examples independent)"
                        + (dense > 0 ? "; " + dense + " of them dense weights, written directly" : "")
                        + (tiled > 0 ? "; " + tiled + " of them tiled, over chunks of fan-in rows or tiles of examples"
                        + " (a tensor holds at most "
                        + human(tileBytes) + ")" : ""));
    }

    /** Peak bytes of a path VJP beyond its parameter inputs (already held): its cotangent inputs, values, outputs. */
    private static long pathPeak(Graph path, int consumers) {
        long params = 0;
        for (int i = 0; i < path.inputs().size() - consumers; i++) {
            params += GraphCost.bytes(path.inputs().get(i).type());
        }
        return GraphCost.peakBytes(path) - params;
    }

    private static long outputBytes(Graph g) {
        long b = 0;
        for (org.ntk4j.graph.Var v : g.outputs()) {
            b += GraphCost.bytes(v.type());
        }
        return b;
    }

    private Estimate vectorProducts() {
        int k = Shapes.size(f2);
        long full = bytes((long) Shapes.size(f1) * k);
        int[] tiles = Tiles.split(k, VectorProducts.vectorProductBytesPerVector(side(n1), side(n2), dtype),
                tileBytes);
        if (Tiles.count(tiles) == 1) {
            Graph vjp = side(n2).vjp(k);
            Graph jvp = side(n1).jvp(k);
            double flops = GraphCost.flops(vjp) + GraphCost.flops(jvp);
            long peak = Math.max(GraphCost.peakBytes(vjp), GraphCost.peakBytes(jvp));
            peak = Math.max(peak, 2 * full + bytes(outputElements()));
            return new Estimate(Method.NTK_VECTOR_PRODUCTS, flops, GraphCost.flops(jvp), peak,
                    "VJP of f(x2) with " + k + " basis cotangents, then one JVP of f(x1) with them stacked");
        }
        // tiles of basis vectors: the [K] + f(x1) result is held while each tile runs its VJP and JVP
        double flops = 0;
        double jvpFlops = 0;
        long peak = 2 * full + bytes(outputElements());
        java.util.Map<Integer, double[]> bySize = new java.util.HashMap<>();
        for (int i = 0; i < Tiles.count(tiles); i++) {
            double[] c = bySize.computeIfAbsent(Tiles.size(tiles, i), kt -> {
                Graph vjp = side(n2).vjp(kt);
                Graph jvp = side(n1).jvp(kt);
                return new double[] {GraphCost.flops(vjp), GraphCost.flops(jvp),
                    Math.max(GraphCost.peakBytes(vjp), GraphCost.peakBytes(jvp))};
            });
            flops += c[0] + c[1];
            jvpFlops += c[1];
            peak = Math.max(peak, full + (long) c[2]);
        }
        return new Estimate(Method.NTK_VECTOR_PRODUCTS, flops, jvpFlops, peak, "VJP of f(x2) and JVP of f(x1) over "
                + Tiles.count(tiles) + " tiles of the " + k + " basis cotangents (a tensor holds at most "
                + human(tileBytes) + ")");
    }

    private Estimate structuredDerivatives() {
        ParameterConsumers pc1 = consumers(n1);
        if (!perExample(pc1)) {
            Estimate jc = jacobianContraction();
            return new Estimate(Method.STRUCTURED_DERIVATIVES, jc.flops(), jc.contractionFlops(), jc.peakBytes(),
                    "runs as Jacobian contraction: the model mixes examples, so there are no per-example cotangents");
        }
        ParameterConsumers pc2 = same ? pc1 : consumers(n2);
        int r = axes.rank();
        boolean traced = axes.diagonal().length == 0 && axes.trace().length == r - 1 && !axes.isTraced(0);
        int o = Shapes.size(f1) / n1;
        Graph pass1 = side(pc1).pass().graph;
        double flops = GraphCost.flops(pass1);
        long values = 0;
        for (org.ntk4j.graph.Var v : pass1.outputs()) {
            values += GraphCost.bytes(v.type());
        }
        long peak = GraphCost.peakBytes(pass1);
        if (!same) {
            Graph pass2 = side(pc2).pass().graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2));
            for (org.ntk4j.graph.Var v : pass2.outputs()) {
                values += GraphCost.bytes(v.type());
            }
        }
        long acc = bytes(traced ? (long) n1 * n2 : (long) n1 * o * n2 * o);
        List<Integer> dense = new ArrayList<>();
        int structured = 0;
        double contraction = 0;
        long blockPeak = 0;
        for (int p = 0; p < nParams; p++) {
            StructuredDerivatives.Structured st = side(n1).structured(p);
            if (st == null) {
                dense.add(p);
                continue;
            }
            structured++;
            StructuredDerivatives.Structured st2 = same ? st
                    : side(n2).structured(p); // the same path and consumer for x2's shapes
            if (st.form == StructuredDerivatives.Form.ROWS) {
                // rows [O, N] + shape(p'), the Gram applied to them, then one contraction over (o,) p'
                int[] all = Shapes.iota(st.gram.shape.length);
                long pe = StructuredDerivatives.gramSize(st.gram, all);
                long pFull = Shapes.size(st.gram.shape);
                boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, all);
                double rows = ElementwiseRows.rowFlops(st.consumer, o)
                        + (same ? 0 : ElementwiseRows.rowFlops(st2.consumer, o))
                        + StructuredDerivatives.gramFlops(st.gram, all, (long) o * n1,
                                same && keeps ? 0 : (long) o * n2);
                double c = traced ? 2.0 * n1 * n2 * o * pe : 2.0 * n1 * o * n2 * o * pe;
                flops += rows + c;
                contraction += c;
                // both sides' rows, their Gram-applied copies (none for a scaled identity), the contraction's
                // operand copies and its output block (the accumulator is counted below)
                long sides = (same ? (long) n1 : (long) n1 + n2) * o;
                long copies = st.gram.isScaledIdentity() ? 0 : (same && keeps ? (long) n1 * o : sides) * pe;
                int[] r1 = {o, n1, (int) pe};
                int[] r2 = {o, n2, (int) pe};
                long dotScratch = traced
                        ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(r1, r2, new int[] {0, 2}, new int[] {0, 2},
                                new int[0], new int[0])
                        : org.ntk4j.cpu.DotGeneralKernel.scratchElements(r1, r2, new int[] {2}, new int[] {2},
                                new int[0], new int[0], new int[] {1, 0, 3, 2});
                long block = traced ? (long) n1 * n2 : (long) n1 * o * n2 * o;
                blockPeak = Math.max(blockPeak, bytes(sides * pFull + copies + dotScratch + block));
                continue;
            }
            long[] rcf = dims(st.consumer);
            int[][] fa = StructuredDerivatives.factorAxes(st.consumer);
            long rr = rcf[0];
            long c = StructuredDerivatives.gramSize(st.gram, fa[0]);
            long f = StructuredDerivatives.gramSize(st.gram, fa[1]);
            boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, fa[0])
                    && StructuredDerivatives.gramKeepsSides(st.gram, fa[1]);
            boolean stillSame = same && keeps;
            double gram = StructuredDerivatives.gramFlops(st.gram, fa[0], n1 * rr, stillSame ? 0 : n2 * rr)
                    + StructuredDerivatives.gramFlops(st.gram, fa[1], (long) o * n1 * rr,
                    stillSame ? 0 : (long) o * n2 * rr);
            flops += gram;
            ContractionOrder order = ContractionOrder.cheapest(n1, n2, o, rr, c, f, traced, stillSame);
            double blockFlops = ContractionOrder.bestFlops(n1, n2, o, rr, c, f, traced, stillSame);
            flops += blockFlops;
            contraction += blockFlops;
            // Gram order: GA and GD (for the full kernel, the example-major copies of the cotangents, and no GD
            // where one GEMM per pair of examples accumulates in place)
            long cotangentCopies = (stillSame ? n1 : n1 + n2) * o * rr * f;
            // traced: GD = D1·D2ᵀ over (o, f), whose operands the GEMM copies into its layout
            long gdScratch = traced ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(
                    new int[] {o, n1, (int) rr, (int) f}, new int[] {o, n2, (int) rr, (int) f}, new int[] {0, 3},
                    new int[] {0, 3}, new int[0], new int[0]) : 0;
            long temp = order == ContractionOrder.GRAM ? bytes(traced ? 2L * n1 * rr * n2 * rr + gdScratch
                    : StructuredDerivatives.pairGemms(o, rr) ? (long) n1 * n2 + cotangentCopies
                    : (1L + (long) o * o) * n1 * rr * n2 * rr + cotangentCopies)
                    : order == ContractionOrder.SANDWICH ? bytes(sandwichTemp(n1, n2, o, rr, f, traced))
                    : bytes((stillSame ? 1L : 2L) * n1 * c * o * f);
            long data = bytes((long) (same ? n1 : n1 + n2) * rr * (rcf[1] + o * rcf[2]))
                    + (st.gram.isScaledIdentity() ? 0 : bytes((long) (stillSame ? n1 : n1 + n2) * rr * (c + o * f)));
            blockPeak = Math.max(blockPeak, temp + data);
        }
        peak = Math.max(peak, paramBytes + values + acc + blockPeak);
        if (!traced) {
            // the accumulator [N1, O.., N2, O..] is copied to the kernel's layout at the end, both alive
            peak = Math.max(peak, paramBytes + values + 2 * acc);
        }
        if (!dense.isEmpty()) {
            long held = paramBytes + values + acc;
            for (int side = 0; side < (same ? 1 : 2); side++) {
                double[] rp = rowsAndPathCost(side == 0 ? pc1 : pc2, side == 0 ? n1 : n2, o, dense, held);
                flops += rp[0];
                peak = Math.max(peak, (long) rp[1]);
            }
            long pd = 0;
            for (int p : dense) {
                pd += Shapes.size(pc1.params.get(p).shape());
            }
            double c = traced ? 2.0 * n1 * n2 * o * pd : 2.0 * n1 * o * n2 * o * pd;
            flops += c;
            contraction += c;
        }
        return new Estimate(Method.STRUCTURED_DERIVATIVES, flops, contraction, peak, structured + " of " + nParams
                + " parameters structured, " + dense.size() + " through per-example rows");
    }

    /**
     * Elements the sandwich order holds at once ({@link StructuredDerivatives#sandwichOrder}): K [N1,R,N2,R] and
     * T [N1,O,F,N2,R] with the operand copies of the GEMM forming T, or of the one contracting T with D2 plus its
     * output block.
     */
    private static long sandwichTemp(long n1, long n2, long o, long r, long f, boolean traced) {
        int[] d1 = {(int) o, (int) n1, (int) r, (int) f};
        int[] k = {(int) n1, (int) r, (int) n2, (int) r};
        int[] t = {(int) n1, (int) o, (int) f, (int) n2, (int) r};
        int[] d2 = {(int) o, (int) n2, (int) r, (int) f};
        long s2 = org.ntk4j.cpu.DotGeneralKernel.scratchElements(d1, k, new int[] {2}, new int[] {1}, new int[] {1},
                new int[] {0});
        long s3 = traced
                ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3, 1}, new int[] {1, 0}) + 2L * n2 * o * n1
                : org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3}, new int[] {1}, new int[] {1, 2, 0, 3}) + n1 * o * n2 * o;
        return n1 * r * n2 * r + n1 * o * f * n2 * r + Math.max(s2, s3);
    }

    /** R, C, F of a structured consumer (positions sharing the parameter, fan-in, output features). */
    private static long[] dims(ParameterConsumers.Consumer c) {
        org.ntk4j.primitive.ConsumerRule.Linear rule = c.linear();
        return new long[] {rule.positions(), rule.fanIn(), rule.features()};
    }

    /**
     * The method AUTO picks: the fewest FLOPs among those whose peak fits {@code budgetBytes}.
     *
     * @param budgetBytes the memory budget in bytes
     * @return the chosen method's estimate (the first of JC, VP, SD on a tie)
     * @throws IllegalArgumentException if no method's peak fits the budget
     */
    public Estimate choose(long budgetBytes) {
        Estimate best = null;
        for (Estimate e : estimates()) {
            if (e.peakBytes() <= budgetBytes && (best == null || e.flops() < best.flops())) {
                best = e;
            }
        }
        if (best == null) {
            long min = Long.MAX_VALUE;
            for (Estimate e : estimates()) {
                min = Math.min(min, e.peakBytes());
            }
            throw new IllegalArgumentException("memory budget: no method fits in " + human(budgetBytes)
                    + " for these shapes; the smallest needs " + human(min) + " (raise --memory, or compute it in tiles with --out)");
        }
        return best;
    }

    /**
     * The table of costs and the choice, as printed by {@code ntk4j explain}; never throws for a budget that
     * nothing fits, it says so in the text instead.
     *
     * @param budgetBytes the memory budget in bytes
     * @return several lines of text, each ending in a newline
     */
    public String explain(long budgetBytes) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "model %s, x1 %d × %s, x2 %s, %s, kernel %s%n", model.spec(), n1,
                Shapes.str(perExample), same ? "= x1" : n2 + " × " + Shapes.str(perExample), dtype.shortName(),
                Shapes.str(axes.outputShape(f1, f2)) + " (" + axes + ")"));
        sb.append(String.format(Locale.ROOT, "parameters: %d (%s)%n", totalParams(), human(paramBytes)));
        sb.append(String.format(Locale.ROOT, "%-26s %14s %12s  %s%n", "method", "FLOPs", "peak", "how"));
        Estimate chosen = null;
        String why;
        try {
            chosen = choose(budgetBytes);
            why = "fewest FLOPs among the methods that fit the memory budget of " + human(budgetBytes);
        } catch (IllegalArgumentException ex) {
            why = ex.getMessage();
        }
        for (Estimate e : estimates()) {
            sb.append(String.format(Locale.ROOT, "%-26s %14.4g %12s  %s%s%n", e.method().name().toLowerCase(Locale.ROOT)
                    + " (" + e.method().shortName() + ")", e.flops(),
                    e.peakBytes() == Long.MAX_VALUE ? "-" : human(e.peakBytes()), e.note(),
                    e.peakBytes() > budgetBytes ? "  [exceeds budget]" : ""));
        }
        sb.append("auto chooses: ").append(chosen == null ? "nothing" : chosen.method().shortName()).append(" — ")
                .append(why).append('\n');
        return sb.toString();
    }

    /**
     * A byte count for people, in binary units, in the style of {@code 1.5 GiB}.
     *
     * @param bytes number of bytes
     * @return whole bytes under 1 KiB ({@code 512 B}), else one decimal in KiB, MiB, GiB or TiB
     */
    public static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }
}
