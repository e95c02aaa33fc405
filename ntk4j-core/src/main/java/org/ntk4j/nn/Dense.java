package org.ntk4j.nn;

import org.ntk4j.graph.Var;

/**
 * Fully connected layer on the last axis. Parameters: {@code w} [fan_in, out], and {@code b} [out] unless
 * the bias is off (σ_b = 0).
 * NTK parameterisation: y = (σ_w/√fan_in)·x·w + σ_b·b with w, b ~ N(0, 1);
 * standard: y = x·w + b with w ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²).
 */
public final class Dense extends SingleLayer {
    private final int out;
    private final double wStd;
    private final double bStd;
    private final Parameterization parameterization;

    /**
     * A fully connected layer.
     *
     * @param out the output size, at least 1
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param parameterization NTK or standard (see the class comment)
     * @throws IllegalArgumentException if {@code out} &lt; 1
     */
    public Dense(int out, double wStd, double bStd, Parameterization parameterization) {
        if (out < 1) {
            throw new IllegalArgumentException("dense: the output size must be >= 1, got " + out);
        }
        this.out = out;
        this.wStd = wStd;
        this.bStd = bStd;
        this.parameterization = parameterization;
    }

    /**
     * The output size.
     *
     * @return the number of output features
     */
    public int out() {
        return out;
    }

    /**
     * σ_w, the weight scale.
     *
     * @return the weight standard deviation as given to the constructor
     */
    public double wStd() {
        return wStd;
    }

    /**
     * σ_b, the bias scale (0: no bias).
     *
     * @return the bias standard deviation as given to the constructor
     */
    public double bStd() {
        return bStd;
    }

    /**
     * The parameterisation: NTK, or standard for any other value (as the layer reads it).
     *
     * @return the parameterisation as given to the constructor
     */
    public Parameterization parameterization() {
        return parameterization;
    }

    @Override
    public String kind() {
        return "dense";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("dense: needs inputs with a feature axis, got a scalar per example");
        }
        int[] r = in.clone();
        r[r.length - 1] = out;
        return r;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        int fanIn = in[in.length - 1];
        boolean ntk = parameterization == Parameterization.NTK;
        scope.declare("w", new int[] {fanIn, out}, ntk ? 1.0 : wStd / Math.sqrt(fanIn), 0);
        if (bStd != 0) {
            scope.declare("b", new int[] {out}, ntk ? 1.0 : bStd, 0);
        }
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        Var w = scope.get("w");
        Var y = x.matmul(w);
        boolean ntk = parameterization == Parameterization.NTK;
        if (ntk) {
            y = y.mul(wStd / Math.sqrt(w.dim(0)));
        }
        if (bStd != 0) {
            Var b = scope.get("b");
            y = y.add(ntk ? b.mul(bStd) : b);
        }
        return y;
    }

    @Override
    public String toString() {
        return "Dense(" + out + ", W_std=" + wStd + ", b_std=" + bStd + ", " + parameterization + ")";
    }
}
