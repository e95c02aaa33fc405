package org.ntk4j.predict;

import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.train.Examples;

/**
 * What {@link Predict#run} computes: kernel regression or linearised training of {@code model} at {@code params}
 * with its empirical NTK of {@code kind}, trained on {@code train} and evaluated on {@code test} (neural-tangents'
 * {@code gradient_descent_mse}, {@code gp_inference} and {@code gradient_descent} for other losses). Start from
 * {@link #of} (the defaults of {@code ntk4j predict}), or {@link #ofInfinite} for the analytic infinite-width kernels
 * without parameters ({@code predict --infinite}), and change what differs with the {@code with...} methods
 * ({@link #withKind}, {@link #withMethod}, {@link #withTimes}, {@link #withDiagReg}, {@link #withLearningRate},
 * {@link #withInitOutputs}, {@link #withLoss}, {@link #withPosterior}, {@link #withCovariance},
 * {@link #withInfinite}), each named for what it sets: the canonical constructor's sixteen positional components
 * (three booleans and four numbers among them) do not say at the call site which is which.
 *
 * @param model the network; its outputs per example must be [O] with O = the examples' class count
 * @param params its parameters (not closed); null with {@code infinite}, whose analytic kernels read none
 * @param train the labelled training examples (inputs [N, ...] in the model's layout, not closed)
 * @param test the labelled test examples (inputs [M, ...] like the training inputs, not closed)
 * @param kind the kernel: {@code full} (NO×NO, exact) or an N×N kind (acting as K ⊗ I_O); not {@code diagonal}
 * @param method the NTK method, or AUTO
 * @param memoryBudget bytes the kernel computation may hold (AUTO's budget)
 * @param times the training times t ≥ 0, ∞ for kernel regression (t = ∞); finite t uses the eigendecomposition of
 *     the train kernel
 * @param diagReg the diagonal regulariser: K + d·(trace/dim)·I for {@link DiagReg#relative relative(d)},
 *     K + d·I for {@link DiagReg#absolute absolute(d)}
 * @param learningRate η: time enters as η·t
 * @param initOutputs start from the network's outputs at initialisation (the linearised network) instead of 0;
 *     not with a posterior
 * @param posterior Gaussian-process inference instead of training, or null; needs an N×N kind: {@code
 *     gp_inference}'s posterior at t = ∞, and for nngp and ntk at finite t the trained ensemble's Gaussian ({@code
 *     gradient_descent_mse_ensemble}, {@link GradientDescentMseEnsemble})
 * @param loss the training loss: MSE has the closed form, any other is integrated as the function-space ODE (finite
 *     t only)
 * @param momentum μ in [0, 1) (continuous-time momentum, integrated as an ODE), or NaN for none
 * @param covariance with a posterior: also return the test covariance [M, M] ([T, M, M] for several times)
 * @param infinite with a posterior: the model's analytic infinite-width NNGP and NTK ({@code InfiniteLimit}: a zoo
 *     fcn, cnn or resnet, or a network built from {@code Layers} whose limit composes) instead of the empirical
 *     kernels at {@code params}, which are then not read
 */
public record PredictRequest(Model model, Params params, Examples train, Examples test, KernelKind kind,
                             Method method, long memoryBudget, double[] times, DiagReg diagReg,
                             double learningRate, boolean initOutputs,
                             GpInference.Posterior posterior, Loss loss, double momentum, boolean covariance,
                             boolean infinite) {
    /**
     * Checks the request's combinations, before any work.
     *
     * @param model the network; its outputs per example must be [O] with O = the examples' class count
     * @param params its parameters (not closed); null with {@code infinite}
     * @param train the labelled training examples (inputs [N, ...] in the model's layout, not closed)
     * @param test the labelled test examples (inputs [M, ...] like the training inputs, not closed)
     * @param kind the kernel: {@code full} (NO×NO, exact) or an N×N kind (acting as K ⊗ I_O); not {@code diagonal}
     * @param method the NTK method, or AUTO
     * @param memoryBudget bytes the kernel computation may hold (AUTO's budget)
     * @param times the training times t ≥ 0, ∞ for kernel regression (t = ∞); finite t uses the eigendecomposition of
     *     the train kernel
     * @param diagReg the diagonal regulariser: K + d·(trace/dim)·I for {@link DiagReg#relative relative(d)},
     *     K + d·I for {@link DiagReg#absolute absolute(d)}
     * @param learningRate η: time enters as η·t
     * @param initOutputs start from the network's outputs at initialisation (the linearised network) instead of 0;
     *     not with a posterior
     * @param posterior Gaussian-process inference instead of training, or null; needs an N×N kind; finite t for
     *     nngp and ntk only (the trained ensemble's Gaussian)
     * @param loss the training loss: MSE has the closed form, any other is integrated as the function-space ODE (finite
     *     t only)
     * @param momentum μ in [0, 1) (continuous-time momentum, integrated as an ODE), or NaN for none
     * @param covariance with a posterior: also return the test covariance [M, M] ([T, M, M] for several times)
     * @param infinite with a posterior: the analytic infinite-width kernels instead of the empirical ones
     * @throws IllegalArgumentException as {@link #checkSettings}, or when a setting is missing (diagReg included:
     *     {@link DiagReg#NONE} for none), the learning rate is not a positive finite number, a posterior is asked
     *     for with {@code initOutputs}, the training and test examples have different class counts, or
     *     {@code infinite} is asked for without a posterior, with an NTK method other than AUTO, a sketched kind, or
     *     a model without an analytic limit
     */
    public PredictRequest {
        requireGiven("model", model);
        if (params == null && !infinite) {
            // the one setting whose absence has a meaning: no network's parameters, the infinite-width limit
            throw new IllegalArgumentException("predict: params: expected the network's parameters for the empirical "
                    + "kernels, got null; for the analytic infinite-width kernels, which read none, use "
                    + "PredictRequest.ofInfinite (or withInfinite(true), with a posterior)");
        }
        requireGiven("train", train);
        requireGiven("test", test);
        requireGiven("kind", kind);
        requireGiven("method", method);
        requireGiven("times", times);
        requireGiven("loss", loss);
        requireGiven("diagReg", diagReg); // its value was checked by its factory
        times = times.clone();
        checkSettings(kind, times, posterior, loss, momentum, covariance);
        // refused here, before any kernel is computed, not by the solver after the train kernel
        GradientDescentMse.checkLearningRate(learningRate);
        if (posterior != null && initOutputs) {
            // gp_inference's Gaussians are over initialisations, with mean 0 at t = 0: no network's own f0 enters
            throw new IllegalArgumentException("--f0 init: --posterior " + posterior.shortName() + " is the Gaussian "
                    + "over initialisations, whose mean starts from f0 = 0; drop --f0 init (or --posterior for the "
                    + "linearised network trained from its own outputs)");
        }
        if (train.classes() != test.classes()) {
            throw new IllegalArgumentException("predict: the training examples have " + train.classes()
                    + " classes, the test examples " + test.classes());
        }
        if (infinite) {
            checkInfiniteSettings(kind, method, posterior);
            limit(model, java.util.Arrays.copyOfRange(train.x().shape(), 1, train.x().rank()));
        }
    }

    /**
     * Checks a request for the analytic infinite-width kernels: with a posterior (the infinitely wide networks are
     * an ensemble over initialisations, whose Gaussian the posterior is), no NTK method to choose (a closed form),
     * a kind with an infinite-width counterpart, and a zoo model with a limit.
     *
     * @param model the network, whose spec names the zoo model
     * @param kind the kernel kind
     * @param method the NTK method: AUTO only
     * @param posterior the posterior
     * @throws IllegalArgumentException naming the setting, when one of them has no meaning with the limit
     */
    public static void checkInfinite(Model model, KernelKind kind, Method method, GpInference.Posterior posterior) {
        checkInfiniteSettings(kind, method, posterior);
        org.ntk4j.infinite.InfiniteLimit.of(model.spec()); // refuses a model without a limit, naming those with one
    }

    /**
     * The analytic limit a request with {@code infinite} computes with: the zoo's own ({@code InfiniteLimit.of(spec)})
     * for a model the zoo built ({@code Zoo.built}), which refuses the zoo models without one as {@link #checkInfinite}
     * does; otherwise (a network built in Java from {@code Layers}, whose spec is a description) the limit composed
     * from its layers for examples of {@code perExample}, which refuses a layer without a rule naming it and its path.
     *
     * @param model the network
     * @param perExample the per-example input shape
     * @return the limit
     * @throws IllegalArgumentException for a model without a limit
     */
    static org.ntk4j.infinite.InfiniteLimit limit(Model model, int[] perExample) {
        // the zoo's own model only (Zoo.built): a Java model described as "fcn" is not the zoo's fcn
        if (org.ntk4j.nn.Zoo.built(model)) {
            return org.ntk4j.infinite.InfiniteLimit.of(model.spec());
        }
        return org.ntk4j.infinite.InfiniteLimit.of(model, perExample);
    }

    /** A setting that must be given, named when it is null. */
    private static void requireGiven(String name, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("predict: " + name + ": expected a value, got null");
        }
    }

    /** {@link #checkInfinite}'s checks of the settings, without the model's. */
    private static void checkInfiniteSettings(KernelKind kind, Method method, GpInference.Posterior posterior) {
        if (posterior == null) {
            throw new IllegalArgumentException("--infinite: needs --posterior nngp|ntk|ntkgp (the infinitely wide "
                    + "networks are an ensemble over initialisations: e.g. --posterior ntk --t 10,inf gives its mean "
                    + "and covariance)");
        }
        if (method != Method.AUTO) {
            throw new IllegalArgumentException("--infinite: the analytic kernels are a closed form and run no NTK "
                    + "method, so --method " + method.shortName() + " does not apply; drop it");
        }
        if (kind.isSketched()) {
            throw new IllegalArgumentException("--infinite: --kind " + kind + " has no infinite-width counterpart (it "
                    + "sketches the parameters); use trace, pntk, pntk-unscaled, logit:K or probes:R");
        }
    }

    /**
     * Checks that the kernel kind can be regressed on: the full kernel or an N×N kind.
     *
     * @param kind the kernel kind
     * @throws IllegalArgumentException for {@code diagonal} (one N×N kernel per output)
     */
    public static void checkKind(KernelKind kind) {
        if (kind.isPerOutput()) {
            throw new IllegalArgumentException("--kind: diagonal gives one N×N kernel per output, which "
                    + "gradient_descent_mse does not take; use full (exact) or an N×N kind (trace, pntk, ...)");
        }
    }

    /**
     * Checks the settings of a request and their combinations, before any data is read (the constructor checks
     * them again).
     *
     * @param kind the kernel kind
     * @param times the training times
     * @param posterior the posterior, or null
     * @param loss the loss
     * @param momentum the momentum, or NaN for none
     * @param covariance whether the test covariance is asked for
     * @throws IllegalArgumentException naming the setting (as the CLI's option), when a value or combination has no
     *     meaning: no time, a negative time, momentum outside [0, 1), a {@code diagonal} kind, a posterior with the
     *     ODE or a full kind, the ntkgp posterior at a finite time, the ODE with t = ∞, a covariance without a
     *     posterior
     */
    public static void checkSettings(KernelKind kind, double[] times, GpInference.Posterior posterior, Loss loss,
                                     double momentum, boolean covariance) {
        if (times.length == 0) {
            throw new IllegalArgumentException("--t: no time given");
        }
        for (double t : times) {
            if (!(t >= 0)) {
                throw new IllegalArgumentException("--t: expected times >= 0 or inf, got " + t);
            }
        }
        checkKind(kind);
        if (covariance && posterior == null) {
            throw new IllegalArgumentException("--cov: needs --posterior nngp|ntk|ntkgp");
        }
        if (!Double.isNaN(momentum) && !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("--momentum: expected a number in [0, 1), got " + momentum);
        }
        boolean ode = loss != Loss.MSE || !Double.isNaN(momentum);
        if (posterior != null) {
            if (ode) {
                // name only what was given: --loss mse with --momentum is refused for the momentum alone
                String drop = (loss != Loss.MSE ? "--loss " + loss.shortName() : "")
                        + (loss != Loss.MSE && !Double.isNaN(momentum) ? " and " : "")
                        + (!Double.isNaN(momentum) ? "--momentum" : "");
                throw new IllegalArgumentException("--posterior: the posteriors (gp_inference) and trained ensembles "
                        + "(gradient_descent_mse_ensemble) are for the MSE loss without momentum; drop " + drop);
            }
            if (kind.isFull()) {
                throw new IllegalArgumentException("--posterior: needs an N×N kernel (--kind trace, pntk, ...), not "
                        + "full");
            }
            if (posterior == GpInference.Posterior.NTKGP) {
                for (double t : times) {
                    if (t != Double.POSITIVE_INFINITY) {
                        throw new IllegalArgumentException("--posterior ntkgp: the GP with the NTK is a t = ∞ "
                                + "posterior with no training dynamics; drop the finite --t, or use --posterior ntk "
                                + "for the trained ensemble at finite t");
                    }
                }
            }
        }
        if (ode) {
            for (double t : times) {
                if (t == Double.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException("--loss " + loss.shortName() + (!Double.isNaN(momentum)
                            ? " --momentum" : "") + ": the ODE is integrated to finite times; give --t, e.g. "
                            + "--t 10,100,1000");
                }
            }
        }
    }

    /**
     * The request with {@code ntk4j predict}'s defaults: the kind pntk, AUTO with the default memory budget,
     * t = ∞, diag_reg 1e-4 × the mean diagonal, learning rate 1, f0 = 0, the MSE loss, no posterior, no momentum.
     *
     * @param model the network
     * @param params its parameters, not null: a request without parameters is one for the infinite-width limit,
     *     {@link #ofInfinite}
     * @param train the labelled training examples, classes = the model's outputs
     * @param test the labelled test examples
     * @return the request
     * @throws IllegalArgumentException if an argument is null (a null {@code params} naming {@link #ofInfinite})
     */
    public static PredictRequest of(Model model, Params params, Examples train, Examples test) {
        return new PredictRequest(model, params, train, test, KernelKind.parse("pntk", 0), Method.AUTO,
                org.ntk4j.ntk.EmpiricalNtk.defaultMemoryBudget(), new double[] {Double.POSITIVE_INFINITY},
                DiagReg.relative(1e-4), 1, false, null, Loss.MSE, Double.NaN, false, false);
    }

    /**
     * The request of {@code ntk4j predict --infinite --posterior P}: the model's analytic infinite-width NNGP and NTK
     * instead of empirical kernels at parameters, which it has none of ({@link #params()} is null), with {@link #of}'s
     * other defaults (the kind pntk, t = ∞, diag_reg 1e-4 × the mean diagonal, learning rate 1, the MSE loss, no
     * covariance); change them with the {@code with...} methods ({@code withCovariance(true)} for the covariance,
     * {@code withTimes} for the trained ensemble at finite t). The infinitely wide networks are an ensemble over
     * initialisations, so a posterior is needed: nngp (the Bayesian posterior), ntk (the trained ensemble) or ntkgp.
     * {@code withInfinite(false)} on it is refused, there being no parameters for the empirical kernels.
     *
     * @param model a zoo {@code fcn}, {@code cnn} or {@code resnet}, or a network built from {@code Layers} whose
     *     limit composes
     * @param train the labelled training examples, classes = the model's outputs
     * @param test the labelled test examples
     * @param posterior which Gaussian
     * @return the request
     * @throws IllegalArgumentException if an argument is null, or the model has no analytic limit (naming the models
     *     or the layer without one)
     */
    public static PredictRequest ofInfinite(Model model, Examples train, Examples test,
                                            GpInference.Posterior posterior) {
        if (posterior == null) {
            throw new IllegalArgumentException("predict: posterior: expected nngp, ntk or ntkgp for the infinite-width "
                    + "limit (an ensemble over initialisations), got null");
        }
        return new PredictRequest(model, null, train, test, KernelKind.parse("pntk", 0), Method.AUTO,
                org.ntk4j.ntk.EmpiricalNtk.defaultMemoryBudget(), new double[] {Double.POSITIVE_INFINITY},
                DiagReg.relative(1e-4), 1, false, posterior, Loss.MSE, Double.NaN, false, true);
    }

    /** @return the training times (a copy) */
    @Override
    public double[] times() {
        return times.clone();
    }

    /**
     * Whether a posterior is asked for at some finite time, or at several times: then each time has its Gaussian
     * (the trained ensemble's at finite t, {@link GradientDescentMseEnsemble}), printed and reported per time.
     *
     * @return true for a posterior with times other than the single t = ∞
     */
    public boolean ensemble() {
        return posterior != null && (times.length != 1 || times[0] != Double.POSITIVE_INFINITY);
    }

    /**
     * Whether the request is solved as the function-space ODE (a loss other than MSE, or momentum).
     *
     * @return true for the ODE, false for the closed form or the posterior
     */
    public boolean ode() {
        return loss != Loss.MSE || !Double.isNaN(momentum);
    }

    /**
     * This request with another kernel kind.
     *
     * @param k the kind
     * @return the new request
     */
    public PredictRequest withKind(KernelKind k) {
        return new PredictRequest(model, params, train, test, k, method, memoryBudget, times, diagReg,
                learningRate, initOutputs, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request with another NTK method and memory budget.
     *
     * @param m the method, or AUTO
     * @param budget the bytes the kernel computation may hold
     * @return the new request
     */
    public PredictRequest withMethod(Method m, long budget) {
        return new PredictRequest(model, params, train, test, kind, m, budget, times, diagReg,
                learningRate, initOutputs, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request with other training times.
     *
     * @param ts the times t ≥ 0 (∞ for kernel regression)
     * @return the new request
     */
    public PredictRequest withTimes(double... ts) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, ts, diagReg,
                learningRate, initOutputs, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request with another diagonal regulariser: {@code DiagReg.relative(d)}, K + d·(trace/dim)·I, relative to
     * the train kernel's mean diagonal (neural-tangents' default, {@code diag_reg_absolute_scale=False};
     * {@code predict --diag-reg d}), {@code DiagReg.absolute(d)}, K + d·I ({@code diag_reg_absolute_scale=True};
     * {@code predict --diag-reg d --diag-reg-absolute}), or {@link DiagReg#NONE}.
     *
     * @param reg the regulariser
     * @return the new request
     * @throws IllegalArgumentException if reg is null
     */
    public PredictRequest withDiagReg(DiagReg reg) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, reg,
                learningRate, initOutputs, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request with another learning rate.
     *
     * @param eta η, a positive finite number: time enters as η·t
     * @return the new request
     * @throws IllegalArgumentException if eta is not a positive finite number
     */
    public PredictRequest withLearningRate(double eta) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                eta, initOutputs, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request trained from the network's outputs at initialisation (the linearised network,
     * {@code predict --f0 init}), or from 0 (kernel regression on the targets, the default).
     *
     * @param init true to start from the network's outputs at initialisation, false from 0
     * @return the new request
     * @throws IllegalArgumentException as the canonical constructor: {@code true} with a posterior
     */
    public PredictRequest withInitOutputs(boolean init) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                learningRate, init, posterior, loss, momentum, covariance, infinite);
    }

    /**
     * This request as Gaussian-process inference with posterior {@code p}, or as training (null). A test covariance
     * asked for ({@link #withCovariance}) is kept with a posterior and dropped with null, being a posterior's.
     *
     * @param p the posterior, or null for training
     * @return the new request
     * @throws IllegalArgumentException as the canonical constructor (a posterior with the ODE, a full kind, f0
     *     init, or ntkgp at a finite time)
     */
    public PredictRequest withPosterior(GpInference.Posterior p) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                learningRate, initOutputs, p, loss, momentum, p != null && covariance, infinite);
    }

    /**
     * This request returning the posterior's test covariance [M, M] ([T, M, M] for several times) too, or not.
     *
     * @param withCovariance true to return the test covariance as well as the mean and variances
     * @return the new request
     * @throws IllegalArgumentException as the canonical constructor: {@code true} without a posterior
     */
    public PredictRequest withCovariance(boolean withCovariance) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                learningRate, initOutputs, posterior, loss, momentum, withCovariance, infinite);
    }

    /**
     * This request with the analytic infinite-width kernels, or the empirical ones.
     *
     * @param inf whether the kernels are the model's infinite-width limit (with a posterior only)
     * @return the new request
     * @throws IllegalArgumentException as the canonical constructor: {@code true} without a posterior, {@code false}
     *     on a request without parameters ({@link #ofInfinite})
     */
    public PredictRequest withInfinite(boolean inf) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                learningRate, initOutputs, posterior, loss, momentum, covariance, inf);
    }

    /**
     * This request with another loss and momentum (either other than MSE without momentum: the ODE).
     *
     * @param l the loss
     * @param mu the momentum in [0, 1), or NaN for none
     * @return the new request
     */
    public PredictRequest withLoss(Loss l, double mu) {
        return new PredictRequest(model, params, train, test, kind, method, memoryBudget, times, diagReg,
                learningRate, initOutputs, posterior, l, mu, covariance, infinite);
    }
}
