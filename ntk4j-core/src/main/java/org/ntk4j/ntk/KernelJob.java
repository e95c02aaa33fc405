package org.ntk4j.ntk;

import java.util.function.Function;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The workflow of {@code ntk4j kernel} without {@code --out} tiling: one kernel (the NTK of a kind or of explicit
 * axes, or the NNGP), or the mean of an ensemble of initialisations with its standard error, computed in memory
 * with the method resolved and costed beforehand, timed and its peak measured. Built on {@link EmpiricalNtk}'s
 * public API only.
 */
public final class KernelJob {
    private KernelJob() {
    }

    /**
     * What to compute. Start from {@link #of} (the NTK of a kind) or {@link #ofAxes} (of explicit axes), which take
     * {@code ntk4j kernel}'s defaults, and change what differs with {@link #withMethod}, {@link #withNngp} and
     * {@link #withEnsemble}: the canonical constructor's eleven positional components (a {@code boolean} and an
     * {@code int} and a {@code long} in a row among them) do not say at the call site which is which.
     *
     * @param model the network
     * @param params its parameters (member 0's seed gives them in an ensemble; not closed)
     * @param x1 the first inputs [N1, ...]; not closed
     * @param x2 the second inputs, or null for x2 = x1 (its work reused)
     * @param kind the kind, or null when {@code axes} are given
     * @param axes the explicit trace and diagonal axes {t, d} (overriding the kind), or null
     * @param method the method, or AUTO
     * @param memoryBudget bytes the computation may hold (whatever the method)
     * @param nngp the NNGP f(x1)·f(x2)ᵀ laid out as the kind, instead of the NTK
     * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
     *     kernel at {@code params}
     * @param seed the first seed of an ensemble
     */
    public record Request(Model model, Params params, Tensor x1, Tensor x2, KernelKind kind, int[][] axes,
                          Method method, long memoryBudget, boolean nngp, int ensemble, long seed) {
        /**
         * Checks that a kind or axes are given.
         *
         * @param model the network
         * @param params its parameters (member 0's seed gives them in an ensemble; not closed)
         * @param x1 the first inputs [N1, ...]; not closed
         * @param x2 the second inputs, or null for x2 = x1 (its work reused)
         * @param kind the kind, or null when {@code axes} are given
         * @param axes the explicit trace and diagonal axes {t, d} (overriding the kind), or null
         * @param method the method, or AUTO
         * @param memoryBudget bytes the computation may hold (whatever the method)
         * @param nngp the NNGP f(x1)·f(x2)ᵀ laid out as the kind, instead of the NTK
         * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
         *     kernel at {@code params}
         * @param seed the first seed of an ensemble
         * @throws IllegalArgumentException if neither or both of kind and axes are given, or ensemble is negative
         */
        public Request {
            if ((kind == null) == (axes == null)) {
                throw new IllegalArgumentException("kernel job: give a kind or explicit axes, not "
                        + (kind == null ? "neither" : "both"));
            }
            if (ensemble < 0) {
                throw new IllegalArgumentException("kernel job: ensemble: expected K >= 1 members, or 0 for the "
                        + "kernel at the parameters, got " + ensemble);
            }
        }

        /**
         * The NTK of {@code kind} with {@code ntk4j kernel}'s defaults: the method AUTO within
         * {@link EmpiricalNtk#defaultMemoryBudget()}, the kernel at {@code params} (no ensemble).
         *
         * @param model the network
         * @param params its parameters (not closed)
         * @param x1 the first inputs [N1, ...]; not closed
         * @param x2 the second inputs, or null for x2 = x1 (its work reused)
         * @param kind the kind, not null
         * @return the request
         * @throws IllegalArgumentException if kind is null
         */
        public static Request of(Model model, Params params, Tensor x1, Tensor x2, KernelKind kind) {
            if (kind == null) {
                throw new IllegalArgumentException("kernel job: kind: expected a kernel kind, got null (explicit "
                        + "axes: Request.ofAxes)");
            }
            return new Request(model, params, x1, x2, kind, null, Method.AUTO, EmpiricalNtk.defaultMemoryBudget(),
                    false, 0, 0);
        }

        /**
         * The NTK traced and kept diagonal over explicit output axes ({@code kernel --trace-axes/--diagonal-axes}),
         * with {@link #of}'s other defaults.
         *
         * @param model the network
         * @param params its parameters (not closed)
         * @param x1 the first inputs [N1, ...]; not closed
         * @param x2 the second inputs, or null for x2 = x1 (its work reused)
         * @param axes the trace and diagonal axes {t, d}, not null
         * @return the request
         * @throws IllegalArgumentException if axes is null
         */
        public static Request ofAxes(Model model, Params params, Tensor x1, Tensor x2, int[][] axes) {
            if (axes == null) {
                throw new IllegalArgumentException("kernel job: axes: expected the trace and diagonal axes {t, d}, "
                        + "got null (a kernel kind: Request.of)");
            }
            return new Request(model, params, x1, x2, null, axes, Method.AUTO, EmpiricalNtk.defaultMemoryBudget(),
                    false, 0, 0);
        }

        /**
         * This request with another NTK method and memory budget.
         *
         * @param m the method, or AUTO
         * @param budget bytes the computation may hold (whatever the method)
         * @return the new request
         */
        public Request withMethod(Method m, long budget) {
            return new Request(model, params, x1, x2, kind, axes, m, budget, nngp, ensemble, seed);
        }

        /**
         * This request for the NNGP f(x1)·f(x2)ᵀ laid out as the kind (or the axes), or for the NTK.
         *
         * @param forNngp true for the NNGP, false for the NTK
         * @return the new request
         */
        public Request withNngp(boolean forNngp) {
            return new Request(model, params, x1, x2, kind, axes, method, memoryBudget, forNngp, ensemble, seed);
        }

        /**
         * This request as the mean of an ensemble of initialisations, seeds {@code firstSeed} ...
         * {@code firstSeed + members − 1}, with its standard error; {@code members} 0 for the kernel at the
         * parameters.
         *
         * @param members K ≥ 1 initialisations to average, or 0 for none
         * @param firstSeed the first member's seed
         * @return the new request
         * @throws IllegalArgumentException if members is negative
         */
        public Request withEnsemble(int members, long firstSeed) {
            return new Request(model, params, x1, x2, kind, axes, method, memoryBudget, nngp, members, firstSeed);
        }

        /**
         * Whether the kind's sketch computes the kernel ({@code projected:K}, from Jacobian rows).
         *
         * @return true for {@code projected:K} without explicit axes
         */
        public boolean sketched() {
            return kind != null && kind.isSketched();
        }

        /**
         * The members averaged.
         *
         * @return K for an ensemble, else 1
         */
        public int members() {
            return ensemble == 0 ? 1 : ensemble;
        }
    }

    /**
     * What was computed. Holds the kernel (and the standard error) off-heap: close it.
     *
     * @param kernel the kernel (an ensemble's mean)
     * @param sem for an ensemble, the standard error of the mean per entry (all NaN for one member), else null
     * @param method the method resolved for the kernel
     * @param estimate the cost model's estimate for that method (one member)
     * @param seconds wall-clock seconds of the computation
     * @param peakBytes the tensors' peak bytes above what was live before, plus the parameters and inputs (as the
     *     cost model's peak counts them)
     * @param flopsCounted the FLOPs the executor counted while it ran ({@link org.ntk4j.graph.FlopCount})
     */
    public record Result(Tensor kernel, Tensor sem, Method method, CostModel.Estimate estimate, double seconds,
                         long peakBytes, long flopsCounted) implements AutoCloseable {
        @Override
        public void close() {
            kernel.close();
            if (sem != null) {
                sem.close();
            }
        }
    }

    /**
     * Runs the request.
     *
     * @param q what to compute
     * @return the kernel and its figures, which the caller closes
     * @throws IllegalArgumentException if no plan of the method (AUTO: of any method) fits the budget, or the
     *     inputs are refused
     */
    public static Result run(Request q) {
        int[] perExample = Shapes.dropFirst(q.x1().shape());
        DType dt = q.x1().dtype();
        EmpiricalNtk base = EmpiricalNtk.of(q.model(), q.params()).method(q.method()).memoryBudget(q.memoryBudget());
        EmpiricalNtk ntk = configured(base, q, perExample);
        int n1 = q.x1().dim(0);
        int n2 = q.x2() == null ? 0 : q.x2().dim(0);
        // projected:K sketches Jacobian rows over example chunks that fit the budget (refused here when none does);
        // otherwise what ntk() runs (a kernel of each example with itself that fits no method whole in example chunks),
        // an explicit method over the budget refused here; the NNGP runs no NTK method, whatever --method: its forward
        // passes and one contraction, refused here when over the budget (not when no NTK method fits it)
        CostModel.Estimate est = q.sketched() ? sketchedInMemory(base, q.kind(), n1, n2, perExample, dt)
                : q.nngp() ? ntk.nngpEstimate(n1, n2, perExample, dt)
                : ntk.plannedEstimate(n1, n2, perExample, dt);
        Method used = est.method();
        Tensor.resetPeakBytes();
        long before = Tensor.liveBytes();
        long start = System.nanoTime();
        long flopsBefore = org.ntk4j.graph.FlopCount.total();
        Function<EmpiricalNtk, Tensor> compute = e -> {
            EmpiricalNtk c = e.method(q.method()).memoryBudget(q.memoryBudget());
            EmpiricalNtk withKind = configured(c, q, perExample);
            return q.nngp() ? withKind.nngp(q.x1(), q.x2()) : q.sketched() ? c.kernel(q.kind(), q.x1(), q.x2())
                    : withKind.ntk(q.x1(), q.x2());
        };
        Ensemble.Mean mean = q.ensemble() == 0 ? null
                : Ensemble.of(q.model(), q.seed(), q.ensemble(), perExample, dt).over(compute);
        Tensor k = mean != null ? mean.mean() : compute.apply(base);
        double seconds = (System.nanoTime() - start) / 1e9;
        // the cost model's peak counts the parameters and the inputs (live before the call), so the measured one does
        // too: the tensors' peak above what was live before, plus those
        long held = q.params().count() * dt.bytes() + q.x1().bytes() + (q.x2() == null ? 0 : q.x2().bytes());
        long peak = Tensor.peakBytes() - before + held;
        return new Result(k, mean != null ? mean.sem() : null, used, est, seconds, peak,
                org.ntk4j.graph.FlopCount.total() - flopsBefore);
    }

    /**
     * The cost of a {@code projected:K} kernel of n1 × n2 examples computed in memory within {@code ntk}'s memory
     * budget: per-example Jacobian rows, one parameter at a time, over the largest chunks of examples that fit,
     * each sketched to [N, O, K], then one N1 × N2 contraction (whatever {@code ntk}'s method: the rows are formed
     * as Jacobian contraction forms them).
     *
     * @param ntk the model, parameters and memory budget
     * @param kind a projected:K kind
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return the estimate, method {@link Method#JACOBIAN_CONTRACTION}; its note names the chunks
     * @throws IllegalArgumentException if the kind is not projected:K or the model's outputs are not [N, O], or
     *     not even chunks of one example fit the budget (naming the least budget that suffices)
     */
    public static CostModel.Estimate sketchedInMemory(EmpiricalNtk ntk, KernelKind kind, int n1, int n2,
                                                      int[] perExample, DType dtype) {
        if (!kind.isSketched()) {
            throw new IllegalArgumentException("kind " + kind + ": not a sketched kind (projected:K)");
        }
        kind.logits(ntk.model(), perExample);
        return ProjectedSketch.plan(ntk, kind, n1, n2, perExample, dtype).estimate();
    }

    private static EmpiricalNtk configured(EmpiricalNtk e, Request q, int[] perExample) {
        return q.axes() != null ? e.traceAxes(q.axes()[0]).diagonalAxes(q.axes()[1]) : e.forKind(q.kind(), perExample);
    }
}
