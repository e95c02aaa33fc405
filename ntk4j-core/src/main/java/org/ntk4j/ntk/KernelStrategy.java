package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * One exact method as a strategy over the kernel's plan: {@link #prepare} does a side's share of the work once
 * (for Jacobian contraction and structured derivatives the per-example pass: the forward pass and the backward
 * pass with O stacked cotangents, read at every parameter consumer; NTK-vector products need none), and
 * {@link #block} computes the kernel between two prepared sides (the same object when x2 = x1);
 * {@link #kernel} is the whole kernel of a call, which also covers axes that trace or take the diagonal of the
 * example axis and models that mix examples. The graphs come from the cached {@link SidePlan}s.
 */
abstract class KernelStrategy {
    final Model model;
    final Params params;
    /** The largest tensor the method forms before it tiles its work. */
    final long tileBytes;
    /** The whole problem's (n1, n2, 1 when x2 = x1) that fixes the size-dependent choices, or null: the inputs'. */
    final long[] problem;

    KernelStrategy(Model model, Params params, long tileBytes, long[] problem) {
        this.model = model;
        this.params = params;
        this.tileBytes = tileBytes;
        this.problem = problem;
    }

    /** The whole kernel of validated inputs, in the layout of their axes. */
    abstract Tensor kernel(KernelInputs in);

    /**
     * The block between two prepared sides ({@code rows == columns}: x2 = x1), in the layout of the inputs' axes;
     * the passes are null for a method that prepares nothing.
     */
    abstract Tensor block(KernelInputs in, PerExamplePass rows, PerExamplePass columns);

    /** Whether {@link #prepare} runs the per-example pass. */
    boolean needsPass() {
        return true;
    }

    /**
     * A tile's shared work for validated inputs of one side (x2 = x1): {@link #prepare(Tensor)} unless the method
     * prepares for its whole problem.
     */
    PerExamplePass prepare(KernelInputs in) {
        return prepare(in.x1);
    }

    /**
     * A side's shared work: its per-example pass (null when the method needs none, or when this side's own trace
     * does not carry the examples first, {@link SidePlan#perExampleShortcut}: its blocks then run
     * {@link #exactBlock}). The caller closes it.
     */
    PerExamplePass prepare(Tensor x) {
        if (!needsPass()) {
            return null;
        }
        int[] perExample = org.ntk4j.tensor.Shapes.dropFirst(x.shape());
        SidePlan side = side(x.dim(0), perExample, x.dtype());
        if (!side.perExampleShortcut) {
            return null;
        }
        return new PerExamplePass(side, paramArgs(model.paramSpecs(perExample)), x);
    }

    /**
     * Whether both sides' own traces carry the examples first, so that per-example passes of x1 (on
     * {@code side1}) and x2 are valid. Decided per batch size: a model may trace a tile of one example with the
     * example axis moved (an ONNX import keeps a size-1 batch axis where the file's transpose puts it) although it
     * carries it first at other batch sizes.
     */
    boolean perExample(KernelInputs in, SidePlan side1) {
        return side1.perExampleShortcut
                && (in.same || side(in.x2.dim(0), in.perExample, in.dtype).perExampleShortcut);
    }

    /**
     * The exact kernel of the inputs' examples by their batch Jacobians ({@link ExactBatch}): the whole kernel of a
     * model that mixes examples, and, for one that treats them independently, the block between sides of which one
     * has no per-example pass (its trace does not carry the examples first, {@link #prepare(Tensor)}).
     */
    Tensor exactBlock(KernelInputs in) {
        return new ExactBatch(model, params, tileBytes, problem).kernel(in);
    }

    Tensor[] paramArgs(List<ParamSpec> specs) {
        return KernelSupport.paramArgs(params, specs);
    }

    /** The cached plan of one side: the traced graph and every graph derived from it. */
    SidePlan side(int n, int[] perExample, DType dtype) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    /**
     * The per-example passes of x1 (on {@code side1}) and of x2 (its own side plan), one pass when x2 = x1, closed
     * once by the returned pair.
     */
    Sides<PerExamplePass> passes(KernelInputs in, SidePlan side1) {
        return passes(in, side1, SidePlan.NO_CONSUMERS);
    }

    /** {@link #passes(KernelInputs, SidePlan)} without the cotangents at the consumers {@code unread} (indices). */
    Sides<PerExamplePass> passes(KernelInputs in, SidePlan side1, int[] unread) {
        Tensor[] ps = paramArgs(in.specs);
        return Sides.of(in.same, () -> new PerExamplePass(side1, ps, in.x1, 0, side1.o, unread),
                () -> new PerExamplePass(side(in.x2.dim(0), in.perExample, in.dtype), ps, in.x2, 0, side1.o,
                        unread), PerExamplePass::close);
    }
}
