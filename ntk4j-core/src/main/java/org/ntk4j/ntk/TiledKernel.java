package org.ntk4j.ntk;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.ntk4j.cpu.Layout;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Computes the tiles of a {@link TilePlan}. Each tile is the block of the untiled kernel
 * {@code ntk.method(plan.method()).kernel(plan.kind(), x1, x2)} to rounding (see {@link EmpiricalNtk#forTiles}),
 * and a function of the plan and the tile's index alone, bit for bit: tiles can be computed in any order, by any
 * number of threads or processes, and retried, and give the same file: {@link #computeTile} computes one tile from the
 * plan and its index alone.
 * {@link #run} computes many, on {@link TilePlan#workers()} threads, reusing each row tile's prepared work for
 * the blocks of its row, and hands each block to a {@link Sink} (such as the output store).
 */
public final class TiledKernel {
    /** Receives each computed block, [rows, columns, tail...]; the block is closed after the call returns. */
    @FunctionalInterface
    public interface Sink {
        /**
         * Called from the worker threads, one call per tile; implementations must be thread-safe.
         *
         * @param tile the tile computed; a mirrored tile's block is given as computed, above the diagonal
         * @param block the block [rows, columns, tail...]; closed by the caller after this returns, so copy what
         *     is kept
         * @throws IOException if storing the block fails; it stops the run and is rethrown by {@link #run}
         */
        void accept(TilePlan.Tile tile, Tensor block) throws IOException;
    }

    /** Told of each finished tile (from the worker threads). */
    @FunctionalInterface
    public interface Listener {
        /**
         * Called once per tile, after its block was handed to the sink.
         *
         * @param tile the tile finished
         * @param seconds wall-clock seconds from taking the tile to handing its block over (preparation included)
         */
        void tileDone(TilePlan.Tile tile, double seconds);
    }

    private final EmpiricalNtk base;
    private final EmpiricalNtk tiles;
    private final TilePlan plan;
    private final Tensor x1;
    private final Tensor x2;
    private final AtomicInteger computed = new AtomicInteger();
    /** What the last {@link #run}'s cache of prepared tiles was estimated to hold; 0 when it ran without one. */
    private volatile long preparedCacheBytes;

    /**
     * A computer of the plan's tiles from the whole inputs, which it holds but does not copy or close (the caller
     * keeps them open while tiles are computed).
     *
     * @param ntk the model and parameters (its method and budget are replaced by the plan's method and per-block
     *     budget, {@link TilePlan#blockBudgetBytes()})
     * @param plan the plan, made for this model
     * @param x1 the first inputs [N1, ...], with the plan's N1, per-example shape and dtype
     * @param x2 null when the plan is symmetric (x2 = x1), else the second inputs [N2, ...] as planned
     * @throws IllegalArgumentException if x1 or x2 do not match the plan (x2 must be null exactly when the plan
     *     is symmetric), or the plan's kind does not fit the model
     */
    public TiledKernel(EmpiricalNtk ntk, TilePlan plan, Tensor x1, Tensor x2) {
        this.plan = plan;
        if (x1 == null || x1.dim(0) != plan.n1() || !java.util.Arrays.equals(Shapes.dropFirst(x1.shape()),
                plan.perExample()) || x1.dtype() != plan.dtype()) {
            throw new IllegalArgumentException("tiles: x1 must be " + plan.n1() + " examples of "
                    + Shapes.str(plan.perExample()) + " (" + plan.dtype().shortName() + ") as planned, got "
                    + (x1 == null ? "null" : Shapes.str(x1.shape()) + " (" + x1.dtype().shortName() + ")"));
        }
        if (plan.symmetric() != (x2 == null) || (x2 != null && (x2.dim(0) != plan.n2()
                || !java.util.Arrays.equals(Shapes.dropFirst(x2.shape()), plan.perExample())
                || x2.dtype() != plan.dtype()))) {
            throw new IllegalArgumentException("tiles: x2 must be " + (plan.symmetric() ? "null (x2 = x1)"
                    : plan.n2() + " examples of " + Shapes.str(plan.perExample())) + " as planned, got "
                    + (x2 == null ? "null" : Shapes.str(x2.shape())));
        }
        this.x1 = x1;
        this.x2 = x2;
        // the plan's per-block budget, not the caller's: every process sizes a block's basis tiles alike
        this.base = ntk.method(plan.method()).memoryBudget(plan.blockBudgetBytes());
        this.tiles = plan.tileable() ? base.forTiles(plan.kind(), plan.n1(), plan.symmetric() ? 0 : plan.n2(),
                plan.perExample(), plan.dtype()) : null;
    }

    /**
     * The plan computed.
     *
     * @return the plan given to the constructor
     */
    public TilePlan plan() {
        return plan;
    }

    /**
     * Tiles computed by this instance so far (for tests and progress).
     *
     * @return the count, over all calls and threads
     */
    public int tilesComputed() {
        return computed.get();
    }

    /**
     * Tile {@code index} alone, [rows, columns, tail...] (the caller closes it): prepares its row and column
     * tiles itself. A mirrored tile is returned as computed, above the diagonal. With a plan that is not
     * tileable the single tile is the whole untiled kernel.
     *
     * @param index position in {@link TilePlan#tiles()}
     * @return the block, which the caller closes
     * @throws IllegalArgumentException if the index is outside the plan's tiles
     */
    public Tensor computeTile(int index) {
        TilePlan.Tile t = plan.tile(index);
        if (tiles == null) {
            computed.incrementAndGet();
            return base.kernel(plan.kind(), x1, x2);
        }
        if (runsExact(t)) {
            return exactBlock(t);
        }
        try (Tensor xr = Layout.sliceAxis(x1, 0, t.rowFrom(), t.rowTo());
             PreparedTile pr = prepare(xr, true)) {
            return block(t, pr);
        }
    }

    /**
     * A tile of x1 ({@code ofX1}) or of x2 prepared for the blocks it takes part in: with x2 = x1, as its block with
     * itself decides ({@link EmpiricalNtk#prepare}); with x2 given, which has no such block, by its blocks with the
     * other side's tiles, full and last ({@link EmpiricalNtk#prepareFor}), as the planner prices them.
     */
    private PreparedTile prepare(Tensor x, boolean ofX1) {
        if (plan.symmetric()) {
            return tiles.prepare(x);
        }
        int n = x.dim(0);
        int[] others = ofX1 ? TilePlanner.tileSizes(plan.n2(), plan.columnTile())
                : TilePlanner.tileSizes(plan.n1(), plan.rowTile());
        int[][] blocks = new int[others.length][];
        for (int i = 0; i < others.length; i++) {
            blocks[i] = ofX1 ? new int[] {n, others[i]} : new int[] {others[i], n};
        }
        return tiles.prepareFor(x, blocks);
    }

    private Tensor block(TilePlan.Tile t, PreparedTile rows) {
        Tensor k;
        if (t.diagonal()) {
            k = tiles.kernel(rows, rows);
        } else {
            try (Tensor xc = Layout.sliceAxis(x2 == null ? x1 : x2, 0, t.columnFrom(), t.columnTo());
                 PreparedTile pc = prepare(xc, x2 == null)) {
                k = tiles.kernel(rows, pc);
            }
        }
        computed.incrementAndGet();
        return k;
    }

    /**
     * Whether the tile's block runs the exact batch path, which reads no pass of either tile: a block off the
     * diagonal with a tile of one example of a model that moves the examples off axis 0 at N = 1
     * ({@link EmpiricalNtk#blockRunsExact}; a diagonal block of such a tile prepares no pass anyway).
     */
    private boolean runsExact(TilePlan.Tile t) {
        return !t.diagonal() && tiles.blockRunsExact(t.rows(), t.columns(), plan.perExample(), plan.dtype());
    }

    /** The block of a tile that {@link #runsExact}: from both tiles' examples alone, neither prepared. */
    private Tensor exactBlock(TilePlan.Tile t) {
        try (Tensor xr = Layout.sliceAxis(x1, 0, t.rowFrom(), t.rowTo());
             Tensor xc = Layout.sliceAxis(x2 == null ? x1 : x2, 0, t.columnFrom(), t.columnTo());
             PreparedTile pr = tiles.examplesOnlyChecked(xr);
             PreparedTile pc = tiles.examplesOnlyChecked(xc)) {
            Tensor k = tiles.kernel(pr, pc);
            computed.incrementAndGet();
            return k;
        }
    }

    /**
     * Computes every tile not in {@code done}, handing each block to {@code sink}. {@link TilePlan#workers()}
     * threads take the tiles in row-major order, one at a time. When every prepared tile fits in what the
     * budget leaves beside the plan's predicted peak, each is prepared once and kept for the whole run;
     * otherwise each worker keeps the prepared row tile of its last tile, prepares a new one only when its next
     * tile lies in another row (so a row's shared work is done at most once per worker, and no worker waits
     * for another), and prepares each column tile for its block. A block that runs the exact batch path (with a
     * tile of one example of a model that moves the examples off axis 0 at N = 1: the last column, or a last row)
     * reads no pass: it takes both tiles' examples alone, neither prepared nor cached, the worker's row tile let go
     * first (an exact column is the last of its row), so an x2 of one example prepares no pass at all. The result does
     * not depend on the number of workers: every block is computed alone. The first failure stops the run and is
     * rethrown.
     *
     * <p>What a worker holds is what the planner prices per block ({@link TilePlanner}): the row tile's pass made
     * first, the column tile's beside it, as the cost model orders them. One block runs the other way: structured
     * derivatives' row tile whose block with itself runs in output chunks holds no pass, so where its block with a
     * smaller column tile runs whole, the column tile's pass comes first and the row tile's is made beside it. That
     * is the block's cost with the sides swapped, the same bytes but for the difference of the two passes'
     * transients; the cost model prices both orders alike to the byte (fcn(depth=2,width=64,out=10),
     * fcn(depth=1,width=256,out=10), fcn(depth=2,width=128,out=32), full kernels of 20 to 40 examples in tiles of
     * 16, 2026-12-07), so the order is kept rather than a column tile prepared a second time.
     *
     * @param done indices of tiles already computed, skipped (e.g. when resuming a file)
     * @param sink receives each block
     * @param listener told of each finished tile, or null
     * @throws IOException if the sink throws one (the first failure, rethrown as thrown)
     */
    public void run(Set<Integer> done, Sink sink, Listener listener) throws IOException {
        List<TilePlan.Tile> pending = new ArrayList<>();
        for (TilePlan.Tile t : plan.tiles()) {
            if (!done.contains(t.index())) {
                pending.add(t);
            }
        }
        AtomicInteger next = new AtomicInteger();
        AtomicBoolean failed = new AtomicBoolean();
        int w = Math.min(plan.workers(), pending.size());
        preparedCacheBytes = 0;
        try (PreparedCache cache = cacheIfItFits(pending)) {
            if (w <= 1) {
                work(pending, next, sink, listener, failed, cache);
            } else {
                runWorkers(w, pending, next, sink, listener, failed, cache);
            }
        }
    }

    /**
     * The bytes the last {@link #run} kept in its cache of prepared tiles, as estimated when it chose to keep them
     * (one prepared tile measured, scaled by the examples, with their input slices): memory beside the plan's
     * predicted peak, which the budget had room for; 0 when it prepared tiles per worker instead (or before a run).
     *
     * @return the estimated bytes of the cache, or 0
     */
    public long preparedCacheBytes() {
        return preparedCacheBytes;
    }

    private void runWorkers(int w, List<TilePlan.Tile> pending, AtomicInteger next, Sink sink, Listener listener,
                            AtomicBoolean failed, PreparedCache cache) throws IOException {
        onWorkers(w, "ntk4j-tile", failed, () -> work(pending, next, sink, listener, failed, cache));
    }

    /** What each worker of {@link #onWorkers} runs. */
    interface Work {
        void run() throws IOException;
    }

    /**
     * Runs {@code work} on {@code w} daemon threads named {@code name} and waits for all of them; a failure sets
     * {@code failed} (which the workers check before taking their next tile) and the first one is rethrown as it
     * was thrown. An interrupt of the calling thread stops the run the same way: it returns only once every worker
     * has finished its tile, then throws an IllegalStateException with the thread's interrupt status kept.
     */
    static void onWorkers(int w, String name, AtomicBoolean failed, Work work) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(w, r -> {
            Thread th = new Thread(r, name);
            th.setDaemon(true);
            return th;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < w; i++) {
                futures.add(pool.submit(() -> {
                    try {
                        work.run();
                    } catch (IOException | RuntimeException | Error e) {
                        failed.set(true);
                        throw e;
                    }
                    return null;
                }));
            }
            Throwable first = null;
            boolean interrupted = false;
            for (Future<?> f : futures) {
                while (true) {
                    try {
                        f.get();
                        break;
                    } catch (InterruptedException e) {
                        // the run stops (no worker takes another tile), but each worker's tile is waited out: it
                        // reads the caller's inputs and prepared tiles and writes into its sink, which the caller
                        // may close as soon as this returns (as Parallel.range waits out its chunks)
                        interrupted = true;
                        failed.set(true);
                    } catch (java.util.concurrent.ExecutionException e) {
                        failed.set(true);
                        if (first == null) {
                            first = e.getCause();
                        }
                        break;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
                if (first == null) {
                    first = new IllegalStateException("interrupted while computing tiles");
                }
            }
            if (first instanceof IOException) {
                throw (IOException) first;
            }
            org.ntk4j.cpu.Parallel.rethrow(first);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One worker: the next pending tile until none is left, reusing its prepared row tile within a row. */
    private void work(List<TilePlan.Tile> pending, AtomicInteger next, Sink sink, Listener listener,
                      AtomicBoolean failed, PreparedCache cache) throws IOException {
        int row = -1;
        Tensor xr = null;
        PreparedTile pr = null;
        try {
            for (int i = next.getAndIncrement(); i < pending.size() && !failed.get(); i = next.getAndIncrement()) {
                TilePlan.Tile t = pending.get(i);
                long start = System.nanoTime();
                try {
                    if (tiles == null) {
                        try (Tensor k = computeTile(t.index())) {
                            sink.accept(t, k);
                        }
                    } else if (runsExact(t)) {
                        // the worker's row tile is let go rather than held beside the block: an exact column tile,
                        // of one example, is the last of its row (the worker's next tile lies in another row), and a
                        // row tile of one example holds no pass
                        if (pr != null) {
                            pr.close();
                            xr.close();
                            pr = null;
                            xr = null;
                            row = -1;
                        }
                        try (Tensor k = exactBlock(t)) { // neither tile cached: the block reads no pass
                            sink.accept(t, k);
                        }
                    } else if (cache != null) {
                        PreparedTile rows = cache.get(true, t.row(), t.rowFrom(), t.rowTo());
                        try (Tensor k = tiles.kernel(rows, t.diagonal() ? rows
                                : cache.get(x2 == null, t.column(), t.columnFrom(), t.columnTo()))) {
                            computed.incrementAndGet();
                            sink.accept(t, k);
                        }
                    } else {
                        if (t.row() != row) {
                            if (pr != null) {
                                pr.close();
                                xr.close();
                                pr = null;
                            }
                            xr = Layout.sliceAxis(x1, 0, t.rowFrom(), t.rowTo());
                            pr = prepare(xr, true);
                            row = t.row();
                        }
                        try (Tensor k = block(t, pr)) {
                            sink.accept(t, k);
                        }
                    }
                } catch (IOException | RuntimeException | Error e) {
                    failed.set(true);
                    throw e;
                }
                if (listener != null) {
                    listener.tileDone(t, (System.nanoTime() - start) / 1e9);
                }
            }
        } finally {
            if (pr != null) {
                pr.close();
            }
            if (xr != null) {
                xr.close();
            }
        }
    }

    /**
     * Every prepared tile of the run, each computed once (by the first worker that needs it) and kept until
     * the run ends: used when they all fit in what the budget leaves beside the plan's predicted peak.
     */
    private final class PreparedCache implements AutoCloseable {
        private final java.util.Map<String, java.util.concurrent.FutureTask<PreparedTile>> tasks =
                new java.util.concurrent.ConcurrentHashMap<>();
        private final List<Tensor> slices = java.util.Collections.synchronizedList(new ArrayList<>());

        PreparedTile get(boolean ofX1, int index, int from, int to) {
            String key = (ofX1 ? "x1 " : "x2 ") + index;
            java.util.concurrent.FutureTask<PreparedTile> mine = new java.util.concurrent.FutureTask<>(
                () -> {
                    Tensor xs = Layout.sliceAxis(ofX1 ? x1 : x2, 0, from, to);
                    slices.add(xs);
                    return prepare(xs, ofX1);
                });
            java.util.concurrent.FutureTask<PreparedTile> task = tasks.putIfAbsent(key, mine);
            if (task == null) {
                task = mine;
                task.run();
            }
            try {
                return task.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while preparing a tile", e);
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException) {
                    throw (RuntimeException) c;
                }
                if (c instanceof Error) {
                    throw (Error) c;
                }
                throw new IllegalStateException(c);
            }
        }

        @Override
        public void close() {
            for (java.util.concurrent.FutureTask<PreparedTile> t : tasks.values()) {
                if (t.isDone()) {
                    try {
                        t.get().close();
                    } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
                        // a failed preparation holds nothing
                    }
                }
            }
            for (Tensor x : slices) {
                x.close();
            }
        }
    }

    /**
     * A cache of every prepared tile when they all fit beside the plan's predicted peak (the bytes of one
     * prepared tile are measured on the first, scaled by the number of examples), else null.
     */
    private PreparedCache cacheIfItFits(List<TilePlan.Tile> pending) {
        if (tiles == null || pending.isEmpty()) {
            return null;
        }
        // the first tile whose block reads passes (a block that runs the exact batch path prepares none)
        TilePlan.Tile first = null;
        for (TilePlan.Tile t : pending) {
            if (!runsExact(t)) {
                first = t;
                break;
            }
        }
        if (first == null) {
            return null;
        }
        PreparedCache cache = new PreparedCache();
        PreparedTile p = cache.get(true, first.row(), first.rowFrom(), first.rowTo());
        double perExample = (double) (p.bytes() + (long) first.rows() * Shapes.size(plan.perExample())
                * plan.dtype().bytes()) / first.rows();
        long all = (long) Math.ceil(perExample * (plan.n1() + (plan.symmetric() ? 0 : plan.n2())));
        if (all <= plan.budgetBytes() - plan.predictedPeakBytes()) {
            preparedCacheBytes = all;
            return cache;
        }
        cache.close();
        return null;
    }

    /**
     * The whole kernel in memory, [N1, N2, tail...] (it must fit one tensor, 2^31 - 1 bytes): every tile, mirrored
     * ones also below the diagonal. Equal to the untiled kernel by the plan's method to rounding.
     *
     * @return the kernel [N1, N2, tail...], which the caller closes
     * @throws IllegalArgumentException if the kernel exceeds what one tensor holds
     */
    public Tensor computeAll() {
        Tensor out = Tensor.empty(plan.dtype(), plan.shape());
        int[] strides = Shapes.strides(plan.shape());
        int[] mirror = plan.mirrorPermutation();
        try {
            run(Set.of(), (t, k) -> {
                synchronized (out) {
                    place(out, strides, k, t.rowFrom(), t.columnFrom());
                    if (t.mirrored()) {
                        try (Tensor m = Layout.transpose(k, mirror)) {
                            place(out, strides, m, t.columnFrom(), t.rowFrom());
                        }
                    }
                }
            }, null);
        } catch (IOException e) {
            out.close();
            throw new IllegalStateException(e); // an in-memory sink does no I/O
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    private static void place(Tensor out, int[] strides, Tensor block, int row, int column) {
        Layout.stridedCopy(block, 0, Shapes.strides(block.shape()), out, row * strides[0] + column * strides[1],
                strides, block.shape());
    }
}
