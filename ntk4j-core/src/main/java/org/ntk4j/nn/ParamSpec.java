package org.ntk4j.nn;

import org.ntk4j.tensor.Shapes;

/**
 * One parameter of a network: its hierarchical name (path, '/'-separated), shape, and the standard deviation
 * of its Gaussian initialisation (mean 0). In NTK parameterisation weights are N(0, 1) and the scale lives in
 * the forward formula; in standard parameterisation the scale is in {@code initStd}.
 */
public final class ParamSpec {
    private final String path;
    private final int[] shape;
    private final double initStd;
    private final double initMean;

    public ParamSpec(String path, int[] shape, double initStd, double initMean) {
        this.path = path;
        this.shape = shape.clone();
        this.initStd = initStd;
        this.initMean = initMean;
    }

    public String path() {
        return path;
    }

    public int[] shape() {
        return shape.clone();
    }

    public double initStd() {
        return initStd;
    }

    /** Mean of the initialisation (1 for normalisation scales, 0 otherwise). */
    public double initMean() {
        return initMean;
    }

    public int size() {
        return Shapes.size(shape);
    }

    @Override
    public String toString() {
        return path + Shapes.str(shape);
    }
}
