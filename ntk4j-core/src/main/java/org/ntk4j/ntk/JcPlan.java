package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Jacobian contraction's plan for one pair of sides (examples independent): one typed {@link Step} per parameter,
 * chosen once, which {@link JacobianContraction} runs and {@link JcCost} costs by walking the same list in the same
 * order. A step carries its own run and its own cost (FLOPs, and the bytes it holds on top of what the walk holds
 * already), so the schedule is described here and nowhere else. Built once per (sides, x2 = x1, tile limit, whole
 * problem size) and cached on the first side's {@link SidePlan}.
 */
final class JcPlan {
    /** The steps, one per parameter, in parameter order. */
    final List<Step> steps;

    /** What a cost walk holds while it walks the steps: the running FLOPs and peak, and the problem's sizes. */
    static final class Walk {
        final CostModel c;
        final ParameterConsumers pc1;
        final ParameterConsumers pc2;
        final int o;
        /** Bytes held across every step: parameters, inputs, the passes' values, the accumulator and its copy. */
        final long held;
        double flops;
        long peak;

        Walk(CostModel c, ParameterConsumers pc1, ParameterConsumers pc2, int o, long held, double flops, long peak) {
            this.c = c;
            this.pc1 = pc1;
            this.pc2 = pc2;
            this.o = o;
            this.held = held;
            this.flops = flops;
            this.peak = peak;
        }

        ParameterConsumers pc(int side) {
            return side == 0 ? pc1 : pc2;
        }

        int n(int side) {
            return side == 0 ? c.n1 : c.n2;
        }

        int sides() {
            return c.same ? 1 : 2;
        }

        /** Bytes of one side's Jacobian of a parameter of {@code size} scalars (0 for x2 when x2 = x1). */
        long jacobianBytes(int side, long size) {
            return side == 1 && c.same ? 0 : c.bytes((long) Shapes.size(side == 0 ? c.f1 : c.f2) * size);
        }

        void hold(long bytes) {
            peak = Math.max(peak, bytes);
        }
    }

    /** One parameter's part of the kernel: how it is run, and what that costs. */
    sealed interface Step permits Dense, Tiled, Whole {
        /** @return the parameter index */
        int parameter();

        /** Runs the step: this parameter's kernel term, owned by the caller. */
        Tensor run(JacobianContraction jc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2);

        /** Adds this step's FLOPs to the walk and raises its peak by what the step holds at once. */
        void cost(Walk w);
    }

    /**
     * A dense weight consumed as it is: its Jacobian written directly (example-major), over {@code chunks} of its
     * fan-in rows, each chunk one GEMM over all N·O rows, the chunks' kernels summed.
     */
    record Dense(int parameter, PerExamplePass.Dense d1, PerExamplePass.Dense d2, int[] chunks) implements Step {
        @Override
        public Tensor run(JacobianContraction jc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2) {
            return jc.denseParameterKernel(in, pass1, pass2, d1, d2, chunks);
        }

        @Override
        public void cost(Walk w) {
            CostModel c = w.c;
            int widest = 0;
            for (int i = 0; i < Tiles.count(chunks); i++) {
                widest = Math.max(widest, Tiles.size(chunks, i));
            }
            long out = c.bytes(c.outputElements());
            long partial = Tiles.count(chunks) > 1 ? out : 0; // the chunks' running sum
            long jc1 = c.bytes((long) Shapes.size(c.f1) * widest * d1.f);
            long jc2 = c.same ? 0 : c.bytes((long) Shapes.size(c.f2) * widest * d1.f);
            for (int side = 0; side < w.sides(); side++) {
                PerExamplePass.Dense d = side == 0 ? d1 : d2;
                w.flops += (double) w.n(side) * GraphCost.flops(c.side(w.pc(side)).rowGraph(d.consumer));
                long copies = c.bytes((long) w.n(side) * d.c + (long) w.o * w.n(side) * d.f); // [N,1,C], [O,N,1,F]
                w.hold(w.held + partial + (side == 0 ? 0 : jc1) + copies + (side == 0 ? jc1 : jc2));
            }
            for (int i = 0; i < Tiles.count(chunks); i++) { // each chunk's Jacobian contracted on its own
                w.flops += c.contractionFlops(c.f1, c.f2, (long) Tiles.size(chunks, i) * d1.f, c.same);
            }
            w.hold(w.held + partial + jc1 + jc2 + out + c.contractionScratch(c.f1, c.f2, (long) widest * d1.f,
                    c.same));
        }
    }

    /**
     * A parameter whose per-example Jacobian would pass the tile limit: formed over tiles of examples t1 (x1) and
     * t2 (x2), each pair of tiles contracted into its block of the kernel (tile i with tile i only for a traced or
     * diagonal batch axis).
     */
    record Tiled(int parameter, int[] t1, int[] t2) implements Step {
        @Override
        public Tensor run(JacobianContraction jc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2) {
            return jc.tiledParameterKernel(in, pass1, pass2, parameter, t1, t2);
        }

        @Override
        public void cost(Walk w) {
            CostModel c = w.c;
            List<Integer> one = List.of(parameter);
            long size = Shapes.size(w.pc1.params.get(parameter).shape());
            boolean batchPaired = !c.axes.isTraced(0) && !c.axes.isDiagonal(0);
            int[] b2 = batchPaired ? t2 : t1;
            for (int side = 0; side < w.sides(); side++) {
                ParameterConsumers pc = w.pc(side);
                int[] t = side == 0 ? t1 : b2;
                long other = side == 0 ? 0 : w.jacobianBytes(0, size);
                List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, one);
                boolean identity = cons.size() == 1 && cons.get(0).parameterValue() == pc.params.get(parameter);
                for (int i = 0; i < Tiles.count(t); i++) {
                    int nt = Tiles.size(t, i);
                    long done = c.bytes((long) w.o * t[i] * size); // this side's earlier tiles, held
                    long jt = c.bytes((long) w.o * nt * size);
                    long rowBytes = 0;
                    long building = 0; // rows so far and the current consumer's row graph
                    for (ParameterConsumers.Consumer cc : cons) {
                        w.flops += (double) nt * GraphCost.flops(c.side(pc).rowGraph(cc));
                        long rb = c.bytes((long) w.o * nt * cc.parameterValue().size());
                        building = Math.max(building, rowBytes + rb + c.rowScratch(pc, cc, w.o));
                        rowBytes += rb;
                    }
                    if (identity) {
                        w.hold(w.held + other + done + Math.max(building, rowBytes + jt));
                    } else {
                        Graph path = c.side(pc).pathVjp(cons, one, w.o * nt);
                        w.flops += GraphCost.flops(path);
                        w.hold(w.held + other + done + Math.max(building, CostModel.pathPeak(path, cons.size()) + jt));
                    }
                }
            }
            long block = 0;
            long scratch = 0; // the contraction's operand copies, when its axes are not last in place
            for (int i = 0; i < Tiles.count(t1); i++) {
                for (int j = 0; j < Tiles.count(b2); j++) {
                    if (!batchPaired && i != j) {
                        continue; // a traced or diagonal batch axis pairs tile i with tile i only
                    }
                    int[] f1t = c.f1.clone();
                    f1t[0] = Tiles.size(t1, i);
                    int[] f2t = c.f2.clone();
                    f2t[0] = Tiles.size(b2, j);
                    block = Math.max(block, c.bytes(Shapes.size(c.axes.outputShape(f1t, f2t))));
                    scratch = Math.max(scratch, c.contractionScratch(f1t, f2t, size, c.same && i == j));
                    // the pairs contracted: with x2 = x1 those on and above the diagonal, a tile with itself a Gram
                    if (!batchPaired || !c.same || j >= i) {
                        w.flops += c.contractionFlops(f1t, f2t, size, c.same && i == j);
                    }
                }
            }
            // every tile, a block and its zip copy
            w.hold(w.held + w.jacobianBytes(0, size) + w.jacobianBytes(1, size) + 2 * block + scratch);
        }
    }

    /** A parameter's whole per-example Jacobian for each side (its rows through the path VJP), then contracted. */
    record Whole(int parameter) implements Step {
        @Override
        public Tensor run(JacobianContraction jc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2) {
            try (Sides<Tensor> j = Sides.of(in.same, () -> pass1.jacobians(List.of(parameter))[0],
                    () -> pass2.jacobians(List.of(parameter))[0], Tensor::close)) {
                return JacobianContraction.contract(List.of(j.first()), List.of(j.second()), in, true);
            }
        }

        @Override
        public void cost(Walk w) {
            CostModel c = w.c;
            long size = Shapes.size(w.pc1.params.get(parameter).shape());
            for (int side = 0; side < w.sides(); side++) {
                jacobianCost(w, side, parameter, side == 0 ? 0 : w.jacobianBytes(0, size));
            }
            w.flops += c.contractionFlops(c.f1, c.f2, size, c.same);
            w.hold(w.held + w.jacobianBytes(0, size) + w.jacobianBytes(1, size) + c.bytes(c.outputElements())
                    + c.contractionScratch(c.f1, c.f2, size, c.same));
        }
    }

    /**
     * Adds to the walk the FLOPs of one side's {@link PerExamplePass#jacobians(List)} of one parameter — the rows of
     * its consumers, through the path VJP unless the parameter is consumed as it is, then their example-major
     * copy — and raises its peak by what that holds at once, on top of {@code w.held} and {@code other} bytes.
     */
    static void jacobianCost(Walk w, int side, int parameter, long other) {
        CostModel c = w.c;
        List<Integer> one = List.of(parameter);
        long size = Shapes.size(w.pc1.params.get(parameter).shape());
        ParameterConsumers pc = w.pc(side);
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, one);
        long rowBytes = 0;
        long building = 0; // rows so far and the current consumer's row graph
        for (ParameterConsumers.Consumer cc : cons) {
            w.flops += (double) w.n(side) * GraphCost.flops(c.side(pc).rowGraph(cc));
            long rb = c.bytes((long) w.o * w.n(side) * cc.parameterValue().size());
            building = Math.max(building, rowBytes + rb + c.rowScratch(pc, cc, w.o));
            rowBytes += rb;
        }
        long jp = w.jacobianBytes(side, size);
        boolean identity = cons.size() == 1 && cons.get(0).parameterValue() == pc.params.get(parameter);
        if (identity) {
            w.hold(w.held + other + Math.max(building, rowBytes + jp)); // rows, then their transposed copy
        } else {
            Graph path = c.side(pc).pathVjp(cons, one, w.o * w.n(side));
            w.flops += GraphCost.flops(path);
            w.hold(w.held + other + Math.max(building, CostModel.pathPeak(path, cons.size()) + jp));
        }
    }

    private JcPlan(List<Step> steps) {
        this.steps = Collections.unmodifiableList(steps);
    }

    /**
     * Chooses each parameter's step: dense weights written directly, over chunks of fan-in rows sized for the
     * whole problem ({@code examples}: the larger side of it, so that every tile sums the same chunks); else
     * tiles of examples when one side's Jacobian would pass {@code tileBytes}; else the whole Jacobian.
     */
    static JcPlan of(SidePlan side1, SidePlan side2, boolean same, DType dtype, long tileBytes, long examples) {
        ParameterConsumers pc1 = side1.pc;
        ParameterConsumers pc2 = same ? pc1 : side2.pc;
        int o = side1.o;
        List<Step> steps = new ArrayList<>();
        for (int p = 0; p < side1.nParams; p++) {
            PerExamplePass.Dense d1 = PerExamplePass.denseForm(pc1, p);
            PerExamplePass.Dense d2 = same ? d1 : PerExamplePass.denseForm(pc2, p);
            if (d1 != null && d2 != null) {
                steps.add(new Dense(p, d1, d2, Tiles.split(d1.c, examples * o * d1.f * dtype.bytes(), tileBytes)));
                continue;
            }
            int[] t1 = Tiles.split(side1.n, PerExamplePass.bytesPerExample(pc1, o, p, dtype), tileBytes);
            int[] t2 = same ? t1 : Tiles.split(side2.n, PerExamplePass.bytesPerExample(pc2, o, p, dtype), tileBytes);
            steps.add(Tiles.count(t1) > 1 || Tiles.count(t2) > 1 ? new Tiled(p, t1, t2) : new Whole(p));
        }
        return new JcPlan(steps);
    }
}
