package org.ntk4j.nn;

import org.ntk4j.tensor.Shapes;

/**
 * One parameter of a network: its hierarchical name (path, '/'-separated), shape, and the standard deviation
 * and mean of its Gaussian initialisation. In NTK parameterisation weights are N(0, 1) and the scale lives in
 * the forward formula; in standard parameterisation the scale is in {@code initStd}.
 */
public final class ParamSpec {
    private final String path;
    private final int[] shape;
    private final double initStd;
    private final double initMean;

    /**
     * A parameter specification.
     *
     * @param path the '/'-separated hierarchical name
     * @param shape the shape, copied
     * @param initStd the standard deviation of the Gaussian initialisation
     * @param initMean the mean of the Gaussian initialisation
     */
    public ParamSpec(String path, int[] shape, double initStd, double initMean) {
        this.path = path;
        this.shape = shape.clone();
        this.initStd = initStd;
        this.initMean = initMean;
    }

    /**
     * The hierarchical name, '/'-separated.
     *
     * @return the path
     */
    public String path() {
        return path;
    }

    /**
     * The shape.
     *
     * @return a copy of the shape
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * Standard deviation of the Gaussian initialisation.
     *
     * @return the standard deviation
     */
    public double initStd() {
        return initStd;
    }

    /**
     * Mean of the initialisation (1 for normalisation scales, 0 otherwise).
     *
     * @return the mean
     */
    public double initMean() {
        return initMean;
    }

    /**
     * Number of elements.
     *
     * @return the product of the shape
     * @throws IllegalArgumentException naming the parameter when it has more elements than one tensor holds
     *     (2^31-1): tiling a kernel splits its examples, never a parameter, so the advice is a smaller layer
     */
    public int size() {
        String tooLarge = tooLargeForATensor();
        if (tooLarge != null) {
            throw new IllegalArgumentException(tooLarge);
        }
        int n = 1;
        for (int d : shape) {
            n *= d; // cannot overflow: the product is at most 2^31-1
        }
        return n;
    }

    /**
     * Why this parameter cannot be one tensor (more than 2^31-1 elements), or null when it can: the one check of that
     * bound, which {@link #size} throws and {@link Model#requireParamsFit} reports under the model's name.
     *
     * @return the reason, naming the parameter and advising a smaller layer, or null
     */
    String tooLargeForATensor() {
        long n = 1;
        for (int d : shape) {
            n = Math.min(n * d, 1L << 31); // saturated past 2^31-1; an axis of size 0 makes it 0
        }
        if (n <= Integer.MAX_VALUE) {
            return null;
        }
        return "parameter '" + path + "' of shape " + Shapes.str(shape) + " has more than 2^31-1 elements, more than "
                + "one tensor holds; computing in tiles splits the examples, not a parameter: use a smaller layer "
                + "(a smaller width, or fewer input features)";
    }

    @Override
    public String toString() {
        return path + Shapes.str(shape);
    }
}
