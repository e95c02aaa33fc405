package org.ntk4j.infinite;

/**
 * Which of the two kernels of the infinite-width limit {@link InfiniteLimit#kernel} lays out: the NNGP K or the
 * NTK Θ, neural-tangents' {@code kernel_fn(x1, x2, get='nngp')} and {@code get='ntk'}.
 *
 * <p>Named for what it picks, so that a call says which kernel it computes:
 * {@code limit.kernel(KernelKind.trace(), x1, x2, LimitKernel.NTK, DType.F64)}. An enum rather than a boolean
 * (whose {@code true} says nothing at the call site) and rather than neural-tangents' string (a misspelling
 * compiles); top-level rather than nested as {@code InfiniteLimit.Get} because {@code Get.NTK} reads as a verb, and
 * the {@code Limit} prefix places it beside {@link InfiniteLimit}, {@link FcnLimit}, {@link CnnLimit},
 * {@link ResNetLimit} and {@link ComposedLimit}, and apart from {@link org.ntk4j.ntk.KernelKind} (the layout) and
 * {@link org.ntk4j.predict.GpInference.Posterior} (which Gaussian a prediction is). Both kernels of one pass, as
 * {@code get=('nngp', 'ntk')} returns them, are {@link InfiniteLimit#kernels}.
 */
public enum LimitKernel {
    /**
     * The NNGP K: the covariance of the infinitely wide network's outputs over initialisations (the Bayesian
     * posterior's prior, {@code get='nngp'}).
     */
    NNGP,
    /**
     * The NTK Θ: the kernel of the infinitely wide network trained by gradient descent, constant in training
     * ({@code get='ntk'}).
     */
    NTK
}
