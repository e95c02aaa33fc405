package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.ntk.CostModel.Estimate;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * Jacobian contraction's cost, walked over the side plans' graphs as {@link JacobianContraction} runs them: the
 * per-example passes, then per parameter its rows (written directly for dense weights, over chunks of fan-in
 * rows or tiles of examples when large) and its contraction; or the exact batch path for models that mix
 * examples.
 */
final class JcCost {
    private final CostModel c;
    private final Model model;
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

    JcCost(CostModel c) {
        this.c = c;
        this.model = c.model;
        this.dtype = c.dtype;
        this.n1 = c.n1;
        this.n2 = c.n2;
        this.same = c.same;
        this.axes = c.axes;
        this.f1 = c.f1;
        this.f2 = c.f2;
        this.nParams = c.nParams;
        this.paramBytes = c.paramBytes;
        this.tileBytes = c.tileBytes;
    }

    private long bytes(long elements) {
        return c.bytes(elements);
    }

    private long outputElements() {
        return c.outputElements();
    }

    private double contractionFlops(long p) {
        return c.contractionFlops(p);
    }

    private SidePlan side(int n) {
        return c.side(n);
    }

    private SidePlan side(ParameterConsumers pc) {
        return c.side(pc);
    }

    private ParameterConsumers consumers(int n) {
        return c.consumers(n);
    }

    private boolean perExample(ParameterConsumers pc) {
        return c.perExample(pc);
    }

    private static String human(long bytes) {
        return CostModel.human(bytes);
    }

    Estimate estimate() {
        List<Integer> all = new ArrayList<>();
        for (int p = 0; p < nParams; p++) {
            all.add(p);
        }
        long out = bytes(outputElements());
        ParameterConsumers pc1 = consumers(n1);
        if (!perExample(pc1)) {
            long pTotal = c.totalParams();
            long j1 = bytes((long) Shapes.size(f1) * pTotal);
            long j2 = same ? 0 : bytes((long) Shapes.size(f2) * pTotal);
            double[] a = c.jacobianCost(n1, all, 0);
            double flops = a[0];
            long peak = (long) a[1];
            if (!same) {
                double[] b = c.jacobianCost(n2, all, j1);
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
        long values = CostModel.outputBytes(pass1);
        long peak = GraphCost.peakBytes(pass1);
        ParameterConsumers pc2 = same ? pc1 : consumers(n2);
        if (!same) {
            Graph pass2 = side(pc2).pass().graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2));
            values += CostModel.outputBytes(pass2);
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
                            peak = Math.max(peak, held + other + done + CostModel.pathPeak(path, cons.size()) + jt);
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
                    peak = Math.max(peak, held + other + CostModel.pathPeak(path, cons.size()) + jp);
                }
            }
            flops += contractionFlops(size);
            peak = Math.max(peak, held + jp1 + jp2 + out);
        }
        return new Estimate(Method.JACOBIAN_CONTRACTION, flops, contractionFlops(c.totalParams()), peak,
                "per-example Jacobians, one parameter at a time (examples independent)"
                        + (dense > 0 ? "; " + dense + " of them dense weights, written directly" : "")
                        + (tiled > 0 ? "; " + tiled + " of them tiled, over chunks of fan-in rows or tiles of examples"
                        + " (a tensor holds at most "
                        + human(tileBytes) + ")" : ""));
    }
}
