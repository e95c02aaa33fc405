package org.ntk4j.infinite;

import org.ntk4j.nn.ModelSpec;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.GpInference;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The analytic infinite-width NNGP and NTK of a zoo network (neural-tangents' {@code stax} {@code kernel_fn}),
 * laid out as the empirical kernel of a {@link KernelKind}. {@link #of} picks the architecture's limit from a zoo
 * spec; models without one are refused in one line naming {@link #SUPPORTED}. {@link #of(org.ntk4j.nn.Model, int[])}
 * composes the limit of a network built from layers.
 */
public interface InfiniteLimit {
    /** The zoo models and activations that have an analytic limit, as the refusals name them. */
    String SUPPORTED = "fcn, cnn (pool=gap or flatten) and resnet, with any act";

    /**
     * Seconds of one thread for a Gaussian expectation integrated numerically (tanh, sigmoid, softplus, silu; elu's
     * one-dimensional rule is priced alike) on the 2-core build machine (Intel Xeon, JDK 17), at the variances where
     * the quadrature's rule is smallest (the layers' variances below π²/4 for tanh, π² for sigmoid, softplus and
     * silu): the rate {@link #predictedSeconds} applies, which {@link #predictedSeconds(Tensor, Tensor)} (and
     * {@code kernel --infinite}) scales by each expectation's node count ({@link #weightedExpectations}).
     */
    double NUMERICAL_SECONDS = 15e-6;

    /** Seconds of one thread for a Gaussian expectation in closed form, with its share of the convolutions. */
    double CLOSED_FORM_SECONDS = 60e-9;

    /**
     * The limit of a zoo spec.
     *
     * @param specText the model spec, with the zoo's defaults for omitted options
     * @return the limit of that network
     * @throws IllegalArgumentException for a model or activation without a limit, or a bad or unknown option
     */
    static InfiniteLimit of(String specText) {
        ModelSpec s = ModelSpec.parse(specText);
        if (s.name().equals("fcn")) {
            return FcnLimit.of(specText);
        }
        if (s.name().equals("cnn")) {
            return CnnLimit.of(specText);
        }
        if (s.name().equals("resnet")) {
            return ResNetLimit.of(specText);
        }
        throw new IllegalArgumentException("--infinite: the analytic infinite-width kernels are implemented for "
                + SUPPORTED + " only, not '" + s.name() + "'");
    }

    /**
     * The limit of a network built from {@link org.ntk4j.nn.Layers}, composed layer by layer as neural-tangents'
     * {@code stax} {@code kernel_fn} ({@link ComposedLimit}: serial, parallel, fan_out, fan_in_sum, dense, flatten
     * and the activations, and on images SAME stride-1 convolutions and global_avg_pool); a layer without a rule is
     * refused in one line naming it and its path.
     *
     * @param model the network
     * @param exampleShape the per-example input shape (without the batch axis); not modified
     * @return the limit of that network for examples of that shape
     * @throws IllegalArgumentException as {@link ComposedLimit#of}
     */
    static InfiniteLimit of(org.ntk4j.nn.Model model, int[] exampleShape) {
        return ComposedLimit.of(model, exampleShape);
    }

    /**
     * Number of logits O.
     *
     * @return the {@code out} of the spec
     */
    int outputs();

    /**
     * How many Gaussian expectations of the activation ({@link ActivationDuals}) {@link #kernel} evaluates for n1 × n2
     * examples of this shape (n2 = 0: x2 = x1): its cost, a few tens of nanoseconds each in closed form and over ten
     * microseconds by numerical integration ({@link #integratesNumerically()}) — pairs × layers for an fcn, pairs ×
     * activations × pixels (flatten) or pixel pairs (gap, resnet) for the convolutional ones.
     *
     * @param n1 examples of x1
     * @param n2 examples of x2, 0 for x2 = x1
     * @param perExample the shape of one example
     * @return the number of expectations
     */
    double expectations(int n1, int n2, int[] perExample);

    /**
     * Whether the activation's expectations are integrated numerically (tanh, sigmoid, softplus, silu, elu) rather
     * than in closed form.
     *
     * @return true for a numerical integration
     */
    boolean integratesNumerically();

    /**
     * A guide to {@link #kernel}'s seconds for n1 × n2 examples of this shape (n2 = 0: x2 = x1): the
     * {@link #expectations} at the rates measured on the 2-core build machine (Intel Xeon, JDK 17),
     * {@link #CLOSED_FORM_SECONDS} for a closed form and {@link #NUMERICAL_SECONDS} for a numerical integration per
     * thread, over {@link org.ntk4j.cpu.Parallel#threads()} threads; right within a factor of a few elsewhere.
     *
     * @param n1 examples of x1
     * @param n2 examples of x2, 0 for x2 = x1
     * @param perExample the shape of one example
     * @return predicted seconds
     */
    default double predictedSeconds(int n1, int n2, int[] perExample) {
        double each = integratesNumerically() ? NUMERICAL_SECONDS : CLOSED_FORM_SECONDS;
        return expectations(n1, n2, perExample) * each / org.ntk4j.cpu.Parallel.threads();
    }

    /**
     * {@link #expectations} of these inputs, each weighted by the cost of its numerical integration against one at
     * small variances: {@link ActivationDuals#relativeNodes} of both its variables' variances, taken from each
     * example's own recursion (n1 + n2 examples' work, not the pairs'), so a network whose layers' variances grow
     * (a large w_std) is priced at the larger rules its integrations use; the plain count for a closed form.
     *
     * @param x1 inputs, {@code [N1, ...]}
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @return the weighted number of expectations
     * @throws IllegalArgumentException if x1 is null, x1 or x2 holds NaN or ±∞, or their examples do not fit the
     *     network
     */
    double weightedExpectations(Tensor x1, Tensor x2);

    /**
     * {@link #predictedSeconds(int, int, int[])} for these inputs: a numerical integration's
     * {@link #NUMERICAL_SECONDS} (measured at small variances) per {@link #weightedExpectations}, so that it follows
     * the quadrature's node count where the layers' variances are large.
     *
     * @param x1 inputs, {@code [N1, ...]}
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @return predicted seconds
     * @throws IllegalArgumentException as {@link #weightedExpectations}
     */
    default double predictedSeconds(Tensor x1, Tensor x2) {
        double each = integratesNumerically() ? NUMERICAL_SECONDS : CLOSED_FORM_SECONDS;
        return weightedExpectations(x1, x2) * each / org.ntk4j.cpu.Parallel.threads();
    }

    /**
     * The NNGP K and the NTK Θ of x1 against x2 (x2 = null: x1 with itself, exactly symmetric) as [N1, N2]
     * matrices, of one logit (the limit is K ⊗ I_O and Θ ⊗ I_O: {@link #kernel} with {@link KernelKind#trace()}),
     * paired as neural-tangents' {@code kernel_fn(x1, x2, ('nngp', 'ntk'))} returns them: the form
     * {@link GpInference} and {@link org.ntk4j.predict.GradientDescentMseEnsemble} take. The zoo's limits compute
     * both in one pass of their recursion, which yields both, so this costs what one {@link #kernel} call does;
     * this default (for other implementations) calls {@link #kernel} twice.
     *
     * @param x1 inputs, {@code [N1, ...]}
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @param dtype element type of the results
     * @return {@code Kernels(K, Θ)}, which the caller closes ({@link GpInference.Kernels#close()})
     * @throws IllegalArgumentException as {@link #kernel}
     * @throws org.ntk4j.ntk.NonFiniteKernelException if a kernel overflows {@code dtype}
     */
    default GpInference.Kernels kernels(Tensor x1, Tensor x2, DType dtype) {
        Tensor nngp = kernel(KernelKind.trace(), x1, x2, LimitKernel.NNGP, dtype);
        try {
            return new GpInference.Kernels(nngp, kernel(KernelKind.trace(), x1, x2, LimitKernel.NTK, dtype));
        } catch (RuntimeException e) {
            nngp.close();
            throw e;
        }
    }

    /**
     * Each example's NNGP and NTK with itself, [M] each: the test points' kernels
     * {@link GpInference.Predictor#predictVariances} and
     * {@link org.ntk4j.predict.GradientDescentMseEnsemble#predictVariances} take instead of the [M, M] test-test
     * kernels. Computed one example at a time ({@link #kernels} of each with itself): M examples' work, not M².
     *
     * @param x inputs, {@code [M, ...]}
     * @param dtype element type of the results
     * @return {@code Kernels(diag K, diag Θ)}, which the caller closes ({@link GpInference.Kernels#close()})
     * @throws IllegalArgumentException as {@link #kernel}
     * @throws org.ntk4j.ntk.NonFiniteKernelException if a kernel overflows {@code dtype}
     */
    default GpInference.Kernels diagonalKernels(Tensor x, DType dtype) {
        LimitLayout.requireInputs(x, null);
        int m = x.dim(0);
        Tensor nngp = Tensor.empty(dtype, m);
        Tensor ntk = null;
        try {
            ntk = Tensor.empty(dtype, m);
            for (int i = 0; i < m; i++) {
                try (Tensor xi = org.ntk4j.cpu.Layout.sliceAxis(x, 0, i, i + 1);
                     GpInference.Kernels k = kernels(xi, null, dtype)) {
                    nngp.setFlat(i, k.nngp().getFlat(0));
                    ntk.setFlat(i, k.ntk().getFlat(0));
                }
            }
            return new GpInference.Kernels(nngp, ntk);
        } catch (RuntimeException e) {
            nngp.close();
            if (ntk != null) {
                ntk.close();
            }
            throw e;
        }
    }

    /**
     * The limit laid out as the empirical kernel of {@code kind} (x2 = null: x1), in {@code dtype}: full
     * [N1, N2, O, O] = Θ ⊗ I_O, trace, pntk, logit:K and probes:R [N1, N2] = Θ, pntk-unscaled = O·Θ, diagonal
     * [N1, N2, O]; projected:K, a sketch of the parameters, has no infinite-width counterpart and is refused.
     *
     * @param kind the kernel layout to produce
     * @param x1 inputs, {@code [N1, ...]}
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @param which the kernel: {@link LimitKernel#NNGP} (K) or {@link LimitKernel#NTK} (Θ)
     * @param dtype element type of the result
     * @return the kernel tensor in the layout of {@code kind}, which the caller closes
     * @throws IllegalArgumentException if kind, which or x1 is null, x1 or x2 holds NaN or ±∞, their examples do
     *     not fit the network, or for projected kernels
     * @throws org.ntk4j.ntk.NonFiniteKernelException if the kernel overflows {@code dtype}
     */
    Tensor kernel(KernelKind kind, Tensor x1, Tensor x2, LimitKernel which, DType dtype);
}
