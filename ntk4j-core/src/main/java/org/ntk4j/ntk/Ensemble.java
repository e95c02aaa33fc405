package org.ntk4j.ntk;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A kernel averaged over an ensemble of K initialisations of one model, seeds s, s + 1, ..., s + K − 1 (each
 * member's parameters initialised deterministically from its seed by {@link Model#init}), with the standard error
 * of the mean per entry: sem = s/√K, s the sample standard deviation over the members (divisor K − 1; NaN for
 * K = 1).
 * The members are computed one after another and accumulated in float64 (Welford's update), so one member's
 * parameters and kernel are in memory at a time, besides the two float64 accumulators.
 *
 * <pre>
 * Ensemble e = Ensemble.of(model, 0, 64, new int[] {784}, DType.F32);
 * try (Ensemble.Mean m = e.kernel(KernelKind.trace(), x, null)) { m.mean(); m.sem(); }
 * try (Ensemble.Mean g = e.nngp(x, null)) { ... }                          // f(x1)·f(x2)ᵀ averaged
 * </pre>
 *
 * Tiled: {@link #computeTile} is the mean over the members of {@link TiledKernel#computeTile} of the same plan
 * and index, so a tile of the ensemble kernel is the ensemble mean of that tile, a function of (plan, index) alone,
 * and {@link #run} drives the tiles of a plan like {@link TiledKernel#run}.
 */
public final class Ensemble {
    /**
     * The mean and the standard error of the mean, per entry, in the members' dtype; close both with this.
     *
     * @param mean the ensemble mean, shaped like one member's kernel
     * @param sem the standard error of the mean, same shape; all NaN for one member
     */
    public record Mean(Tensor mean, Tensor sem) implements AutoCloseable {
        @Override
        public void close() {
            mean.close();
            sem.close();
        }
    }

    /** Receives each tile's ensemble mean and standard error (closed after the call); must be thread-safe. */
    @FunctionalInterface
    public interface Sink {
        /**
         * Called from the worker threads, one call per tile.
         *
         * @param tile the tile computed (a mirrored tile as computed, above the diagonal)
         * @param mean the tile's ensemble mean [rows, columns, tail...]; closed after this returns
         * @param sem its standard error, same shape; closed after this returns
         * @throws IOException if storing fails; it stops the run and is rethrown by {@link Ensemble#run}
         */
        void accept(TilePlan.Tile tile, Tensor mean, Tensor sem) throws IOException;
    }

    private final Model model;
    private final long seed;
    private final int members;
    private final int[] perExample;
    private final DType dtype;
    private final UnaryOperator<EmpiricalNtk> configure;

    private Ensemble(Model model, long seed, int members, int[] perExample, DType dtype,
                     UnaryOperator<EmpiricalNtk> configure) {
        if (model == null || perExample == null || dtype == null) {
            throw new IllegalArgumentException("ensemble: " + (model == null ? "model" : perExample == null
                    ? "perExample" : "dtype") + " must not be null");
        }
        if (members < 1) {
            throw new IllegalArgumentException("ensemble: needs at least 1 member, got " + members);
        }
        this.model = model;
        this.seed = seed;
        this.members = members;
        this.perExample = perExample.clone();
        this.dtype = dtype;
        this.configure = configure;
    }

    /**
     * The ensemble of {@code members} initialisations of {@code model}, seeds {@code seed}, seed + 1, ....
     *
     * @param model the network
     * @param seed seed of the first member
     * @param members K, the number of members, at least 1
     * @param perExample shape of one example, without the batch axis (copied); sizes the parameters
     * @param dtype element type of the parameters and kernels
     * @return the ensemble, its members' kernels configured as by {@link EmpiricalNtk#of}
     * @throws IllegalArgumentException if {@code members} &lt; 1, or model, perExample or dtype is null
     */
    public static Ensemble of(Model model, long seed, int members, int[] perExample, DType dtype) {
        return new Ensemble(model, seed, members, perExample, dtype, UnaryOperator.identity());
    }

    /**
     * The same ensemble whose members' {@link EmpiricalNtk} is configured by {@code f} (method, budget, axes).
     *
     * @param f applied to each member's kernel after any earlier configuration
     * @return a new ensemble; this one is unchanged
     */
    public Ensemble configure(UnaryOperator<EmpiricalNtk> f) {
        UnaryOperator<EmpiricalNtk> before = configure;
        return new Ensemble(model, seed, members, perExample, dtype, e -> f.apply(before.apply(e)));
    }

    /**
     * Number of members.
     *
     * @return K
     */
    public int members() {
        return members;
    }

    /**
     * Seed of the first member.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * The seed of member {@code i}: seed + i.
     *
     * @param i the member, from 0 (not checked against {@link #members()})
     * @return its seed
     */
    public long seedOf(int i) {
        return seed + i;
    }

    /**
     * The ensemble mean and standard error of the eNTK of {@code kind} ({@link EmpiricalNtk#kernel}).
     *
     * @param kind which kernel
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return mean and sem in the kind's layout, which the caller closes
     * @throws IllegalArgumentException if a member's kernel refuses the inputs (see {@link EmpiricalNtk#kernel})
     */
    public Mean kernel(KernelKind kind, Tensor x1, Tensor x2) {
        return over(e -> e.kernel(kind, x1, x2));
    }

    /**
     * The ensemble mean and standard error of the empirical NNGP f(x1)·f(x2)ᵀ (trace over the logits, unless
     * {@link #configure} changes the axes).
     *
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return mean and sem, which the caller closes
     * @throws IllegalArgumentException if a member refuses the inputs (see {@link EmpiricalNtk#nngp})
     */
    public Mean nngp(Tensor x1, Tensor x2) {
        return over(e -> e.nngp(x1, x2));
    }

    /**
     * The mean and standard error over the members of any kernel computed from a member's {@link EmpiricalNtk}.
     *
     * @param kernel computes one member's kernel, a new tensor it closes here after accumulating; members are
     *     computed one after another
     * @return mean and sem shaped like a member's kernel, which the caller closes
     * @throws IllegalStateException if members give kernels of different shapes
     */
    public Mean over(Function<EmpiricalNtk, Tensor> kernel) {
        Accumulator acc = new Accumulator();
        for (int i = 0; i < members; i++) {
            try (Params p = model.init(seedOf(i), perExample, dtype)) {
                try (Tensor k = kernel.apply(configure.apply(EmpiricalNtk.of(model, p)))) {
                    acc.add(k);
                }
            }
        }
        return acc.result();
    }

    /**
     * Tile {@code index} of {@code plan}: the ensemble mean (and sem) of the members' tiles.
     *
     * @param plan the plan, made for this model
     * @param index position in {@link TilePlan#tiles()}
     * @param x1 the whole first inputs [N1, ...] as planned; not closed
     * @param x2 the whole second inputs as planned, or null when the plan is symmetric
     * @return the tile's mean and sem [rows, columns, tail...], which the caller closes
     * @throws IllegalArgumentException if the inputs do not match the plan or the index is out of range
     */
    public Mean computeTile(TilePlan plan, int index, Tensor x1, Tensor x2) {
        Accumulator acc = new Accumulator();
        for (int i = 0; i < members; i++) {
            try (Params p = model.init(seedOf(i), perExample, dtype)) {
                TiledKernel tk = new TiledKernel(configure.apply(EmpiricalNtk.of(model, p)), plan, x1, x2);
                try (Tensor k = tk.computeTile(index)) {
                    acc.add(k);
                }
            }
        }
        return acc.result();
    }

    /**
     * Every tile of {@code plan} not in {@code done}, on {@link TilePlan#workers()} threads (one tile at a time
     * each, every member of it in turn), each handed to {@code sink}. The first failure stops the run and is
     * rethrown.
     *
     * @param plan the plan, made for this model
     * @param x1 the whole first inputs [N1, ...] as planned; not closed
     * @param x2 the whole second inputs as planned, or null when the plan is symmetric
     * @param done indices of tiles already computed, skipped
     * @param sink receives each tile's mean and sem
     * @param listener told of each finished tile, or null
     * @throws IOException if the sink throws one (the first failure, rethrown as thrown)
     */
    public void run(TilePlan plan, Tensor x1, Tensor x2, Set<Integer> done, Sink sink, TiledKernel.Listener listener)
            throws IOException {
        List<TilePlan.Tile> pending = new ArrayList<>();
        for (TilePlan.Tile t : plan.tiles()) {
            if (!done.contains(t.index())) {
                pending.add(t);
            }
        }
        AtomicInteger next = new AtomicInteger();
        AtomicBoolean failed = new AtomicBoolean();
        int w = Math.max(1, Math.min(plan.workers(), pending.size()));
        TiledKernel.onWorkers(w, "ntk4j-ensemble-tile", failed, () -> {
            for (int i = next.getAndIncrement(); i < pending.size() && !failed.get(); i = next.getAndIncrement()) {
                TilePlan.Tile t = pending.get(i);
                long start = System.nanoTime();
                try (Mean m = computeTile(plan, t.index(), x1, x2)) {
                    sink.accept(t, m.mean(), m.sem());
                }
                if (listener != null) {
                    listener.tileDone(t, (System.nanoTime() - start) / 1e9);
                }
            }
        });
    }

    /** Welford's running mean and sum of squared deviations, per entry, in float64. */
    private final class Accumulator {
        private int[] shape;
        private double[] mean;
        private double[] m2;
        private int count;

        void add(Tensor k) {
            double[] v = k.toDoubleArray();
            if (mean == null) {
                shape = k.shape();
                mean = new double[v.length];
                m2 = new double[v.length];
            } else if (!java.util.Arrays.equals(shape, k.shape())) {
                throw new IllegalStateException("ensemble members gave kernels of different shapes");
            }
            count++;
            for (int i = 0; i < v.length; i++) {
                double d = v[i] - mean[i];
                mean[i] += d / count;
                m2[i] += d * (v[i] - mean[i]);
            }
        }

        Mean result() {
            double[] sem = new double[mean.length];
            for (int i = 0; i < sem.length; i++) {
                sem[i] = count < 2 ? Double.NaN : Math.sqrt(m2[i] / (count - 1) / count);
            }
            Tensor a = Tensor.of(dtype, mean, shape);
            try {
                return new Mean(a, Tensor.of(dtype, sem, shape));
            } catch (RuntimeException | Error e) {
                a.close();
                throw e;
            }
        }
    }
}
