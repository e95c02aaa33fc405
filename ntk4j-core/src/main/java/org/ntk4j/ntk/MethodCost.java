package org.ntk4j.ntk;

import org.ntk4j.nn.Model;
import org.ntk4j.tensor.DType;

/**
 * What a method's cost walk ({@link JcCost}, {@link SdCost}) reads of its {@link CostModel}: the problem's sizes
 * and, through the cost model, the side plans whose graphs and steps it walks.
 */
abstract class MethodCost {
    final CostModel c;
    final Model model;
    final DType dtype;
    final int n1;
    final int n2;
    /** Whether the block walked has one side (x2 = x1 there). */
    final boolean same;
    final KernelAxes axes;
    final int[] f1;
    final int[] f2;
    final int nParams;
    final long paramBytes;
    /** Bytes of the inputs the caller holds throughout: x1, and x2 unless x2 = x1 (in the cost model's problem). */
    final long inputBytes;
    final long tileBytes;

    MethodCost(CostModel c, boolean same) {
        this.c = c;
        this.model = c.model;
        this.dtype = c.dtype;
        this.n1 = c.n1;
        this.n2 = c.n2;
        this.same = same;
        this.axes = c.axes;
        this.f1 = c.f1;
        this.f2 = c.f2;
        this.nParams = c.nParams;
        this.paramBytes = c.paramBytes;
        this.inputBytes = inputsOf(c.n1) + (c.same ? 0 : inputsOf(c.n2));
        this.tileBytes = c.tileBytes;
    }

    /** Bytes of n examples of the input. */
    final long inputsOf(int n) {
        return bytes((long) n * org.ntk4j.tensor.Shapes.size(c.perExample));
    }

    /**
     * Bytes of the caller's inputs that a graph evaluated on the n examples of one side does not count among its
     * own inputs: the other side's examples (none when x2 = x1).
     */
    final long otherInputs(int n) {
        return inputBytes - inputsOf(n);
    }

    /** The method's estimate for the cost model's problem. */
    abstract CostModel.Estimate estimate();

    final long bytes(long elements) {
        return c.bytes(elements);
    }

    final long outputElements() {
        return c.outputElements();
    }

    final double contractionFlops(long p) {
        return c.contractionFlops(p);
    }

    final SidePlan side(int n) {
        return c.side(n);
    }

    final SidePlan side(ParameterConsumers pc) {
        return c.side(pc);
    }

    final ParameterConsumers consumers(int n) {
        return c.consumers(n);
    }

    final boolean perExample(ParameterConsumers pc) {
        return c.perExample(pc);
    }

    static String human(long bytes) {
        return CostModel.human(bytes);
    }
}
