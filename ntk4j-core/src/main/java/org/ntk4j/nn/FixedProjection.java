package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * A fixed (non-trainable) linear map of the last axis: y = x·Mᵀ with a constant matrix M [R, O]. Used to
 * build the N×N kernel kinds — the sum of logits (M = 1ᵀ/√O), one logit (M = e_kᵀ), random probes — as
 * the kernel of f followed by this layer, so that each costs its own R cotangents instead of O.
 */
public final class FixedProjection extends SingleLayer {
    private final double[][] matrix;

    /**
     * A projection by M; the input's last axis must have size O (checked when shapes are computed).
     *
     * @param matrix M [R, O], {@code matrix[r][o]} being row r of M; copied
     * @throws IllegalArgumentException if the matrix is empty or its rows differ in length
     */
    public FixedProjection(double[][] matrix) {
        if (matrix.length == 0 || matrix[0].length == 0) {
            throw new IllegalArgumentException("fixed_projection: the matrix must be non-empty");
        }
        for (double[] row : matrix) {
            if (row.length != matrix[0].length) {
                throw new IllegalArgumentException("fixed_projection: the matrix rows differ in length");
            }
        }
        this.matrix = new double[matrix.length][];
        for (int i = 0; i < matrix.length; i++) {
            this.matrix[i] = matrix[i].clone();
        }
    }

    @Override
    public String kind() {
        return "fixed_projection";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0 || in[in.length - 1] != matrix[0].length) {
            throw new IllegalArgumentException("fixed_projection: expects a last axis of size " + matrix[0].length
                    + ", got per-example shape " + Shapes.str(in));
        }
        int[] r = in.clone();
        r[r.length - 1] = matrix.length;
        return r;
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int rows = matrix.length;
        int cols = matrix[0].length;
        double[] mt = new double[rows * cols]; // Mᵀ [O, R]
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < cols; o++) {
                mt[o * rows + r] = matrix[r][o];
            }
        }
        Var m = x.builder().constant(Tensor.of(x.dtype(), mt, cols, rows));
        return x.matmul(m);
    }
}
