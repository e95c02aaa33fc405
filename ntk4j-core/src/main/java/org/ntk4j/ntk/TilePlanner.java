package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * Chooses how to compute a kernel within a memory budget: the method and the tile size, so that the predicted
 * peak stays under the budget, refusing before any work — with the smallest budget that would work — when
 * nothing fits.
 *
 * <p>The prediction is {@link CostModel}'s peak for one block of r × c examples (its prepared tiles, the
 * method's intermediates, the block itself; the cost model is tested to within 20% of the bytes measured),
 * times {@link #SAFETY} for that tolerance, plus the block's mirror, per worker, plus the whole inputs x1 and
 * x2, which stay in memory; each block of the grid priced at its own size (the last row and column of tiles take
 * the remainder), the largest counting:
 * <pre>
 *   peak(t) = bytes(x1) + bytes(x2) + workers · max over blocks r × c (SAFETY · costModel(r, c).peak + bytes(mirror))
 * </pre>
 * A block between a tile with a per-example pass and a tile of one example whose trace carries none (a model that
 * moves the examples off axis 0 at N = 1) runs the exact batch path ({@link ExactBatchCost}) from both tiles'
 * examples alone: no pass is prepared for it, and a worker lets its row tile's pass go first ({@link TiledKernel#run}),
 * so none is counted.
 * Tiles are square, t × t (clamped to n1 and n2), t a multiple of {@link #QUANTUM}, the last row and column
 * of tiles taking the remainder; the planner takes the largest t whose peak fits (larger tiles repeat less per-tile
 * work), and with AUTO the method whose whole tiled run has the fewest predicted FLOPs among those that fit. When
 * x2 = x1, with T tiles per side, only the T(T+1)/2 tiles on and above the diagonal are computed.
 *
 * <p>A block of NTK-vector products that does not fit whole runs over tiles of basis vectors sized to what the budget
 * leaves it — (budget − inputs − c · the mirror) / (c · {@link #SAFETY}) for c blocks at once, c the machine's cores
 * (at most the tiles; fewer when blocks in the smallest steps do not fit c at once) — as the untiled kernel does within
 * its budget ({@link CostModel#estimate(Method, long)}): ResNet-18's O = 1000 kernel of one 224×224 image, whose whole
 * block needs 14.8 GiB, is computed in 4.5 GiB that way. That per-block budget is part of the plan
 * ({@link TilePlan#blockBudgetBytes()}), so every process computes the same basis tiles. Structured derivatives, the
 * same way, run a block that does not fit whole over chunks of outputs sized to the per-block budget
 * ({@link OutputChunks}), as the untiled kernel does: resnet18(width=16)'s kernel of 16 images of 32×32 with its 1000
 * outputs goes to a file in 2 GiB that way, where NTK-vector products need 3.4 GiB. A tile whose block with itself runs
 * in chunks holds no pass ({@link PreparedTile#bytes()} 0): each block runs its chunks'.
 */
public final class TilePlanner {
    /** Margin on the cost model's predicted peak: its tested accuracy (20%). */
    public static final double SAFETY = 1.2;

    /**
     * Tiles hold a multiple of this many examples (the last tile of a row or column takes the remainder). BLAS
     * computes a GEMM in register blocks of rows (OpenBLAS on x86: 4, 8 or 16 rows, narrower kernels at the
     * edge), and a row's bits may depend on which kernel computed it; tiles aligned to a common multiple of the
     * block heights put every example in the same kind of block as the untiled run does. With OpenBLAS's
     * Haswell and Zen kernels that makes tiles equal the untiled kernel bit for bit (measured); its SkylakeX and
     * Cooperlake kernels round some entries differently by the matrix's size, so only agreement to rounding is
     * guaranteed (docs/big-kernels.md, "What is guaranteed"). The file itself never depends on anything but the grid.
     */
    public static final int QUANTUM = 16;

    /** On a machine of several cores, tiles are made small enough for about this many per core. */
    public static final int TILES_PER_WORKER = 4;

    /** The cores the grid is balanced for (the grid never depends on the workers asked for). */
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    private final EmpiricalNtk ntk;
    private final KernelKind kind;
    private long budget;
    private int tile;
    private int workers = 1;
    /** A per-block budget fixed by the caller (a resumed run's), or 0: derived from the budget. */
    private long blockBudget;
    /** BLAS threads per tile of a plan of several tiles, fixed by a resumed run; 0: derived. */
    private int blasThreads;

    private TilePlanner(EmpiricalNtk ntk, KernelKind kind) {
        this.ntk = ntk;
        this.kind = kind;
        this.budget = ntk.memoryBudget();
    }

    /**
     * A planner for {@code kind} with {@code ntk}'s model, parameters, method (or AUTO) and memory budget.
     *
     * @param ntk the kernel configuration; its trace and diagonal axes are replaced by the kind's
     * @param kind the kernel kind to plan
     * @return a new planner, 1 worker, tile size chosen
     */
    public static TilePlanner of(EmpiricalNtk ntk, KernelKind kind) {
        return new TilePlanner(ntk, kind);
    }

    /**
     * The memory budget in bytes (default: the instance's {@link EmpiricalNtk#memoryBudget()}).
     *
     * @param bytes the budget in bytes
     * @return this planner (which is mutable)
     * @throws IllegalArgumentException if {@code bytes} &lt; 1
     */
    public TilePlanner budget(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("memory budget: must be positive, got " + bytes);
        }
        this.budget = bytes;
        return this;
    }

    /**
     * A fixed tile size (rows and columns), rounded up to a multiple of {@link #QUANTUM}, or 0 (default) to choose
     * the largest that fits.
     *
     * @param size examples per tile side, or 0
     * @return this planner (which is mutable)
     * @throws IllegalArgumentException if {@code size} &lt; 0
     */
    public TilePlanner tile(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("tile: must be positive (or 0: choose), got " + size);
        }
        this.tile = size;
        return this;
    }

    /**
     * Tiles computed at once (default 1); each holds its own block's memory. When the budget does not allow
     * this many, fewer are used. The tile grid does not depend on this number (it is balanced for the
     * machine's cores), so neither does the result.
     *
     * @param count the most tiles computed at once, at least 1
     * @return this planner (which is mutable)
     * @throws IllegalArgumentException if {@code count} &lt; 1
     */
    public TilePlanner workers(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("workers: must be >= 1, got " + count);
        }
        this.workers = count;
        return this;
    }

    /**
     * Fixes the budget each block of NTK-vector products is sized to (a resumed run's recorded
     * {@link TilePlan#blockBudgetBytes()}, so that it computes the same basis tiles), instead of deriving it from
     * the memory budget; {@link Long#MAX_VALUE}: blocks run whole. The plan still has to fit the memory budget.
     *
     * @param bytes the per-block budget in bytes, or {@link Long#MAX_VALUE}
     * @return this planner (which is mutable)
     * @throws IllegalArgumentException if {@code bytes} &lt; 1
     */
    public TilePlanner blockBudget(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("block budget: must be positive, got " + bytes);
        }
        this.blockBudget = bytes;
        return this;
    }

    /**
     * Fixes the BLAS threads each tile of a plan of several tiles is computed with (a resumed run passes the recorded
     * value, {@link TilePlan#blasThreads()}, so that its tiles have the bits the first run's had), instead of
     * deriving it from the machine's cores and the blocks the budget allows at once. A plan of one tile uses the
     * cores whatever this says.
     *
     * @param threads the BLAS threads per tile, at least 1
     * @return this planner
     * @throws IllegalArgumentException if threads &lt; 1
     */
    public TilePlanner blasThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("BLAS threads: must be positive, got " + threads);
        }
        this.blasThreads = threads;
        return this;
    }

    /**
     * The plan for x1 of n1 examples and x2 of n2 (n2 = 0: x2 = x1), each of shape {@code perExample}.
     *
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return the plan
     * @throws IllegalArgumentException when no method and tile size fit the budget, naming the smallest budget
     *     that would work; also when n1 &lt; 1 or n2 &lt; 0, or the kind does not fit the model's outputs
     */
    public TilePlan plan(int n1, int n2, int[] perExample, DType dtype) {
        if (n1 < 1 || n2 < 0) {
            throw new IllegalArgumentException("tiles: n1 must be >= 1 and n2 >= 0 (0: x2 = x1), got " + n1 + " and "
                    + n2);
        }
        boolean symmetric = n2 == 0;
        int m2 = symmetric ? n1 : n2;
        EmpiricalNtk plain = kind.sketched() ? ntk.traceAxes(-1).diagonalAxes()
                : ntk.forKind(kind, perExample);
        KernelAxes axes = plain.kernelAxes(perExample);
        int[] out = plain.model().outputShape(perExample);
        int[] shape = axes.outputShape(Shapes.prepend(n1, out), Shapes.prepend(m2, out));
        int tail = Shapes.size(java.util.Arrays.copyOfRange(shape, 2, shape.length));
        long inputBytes = TilePlan.inputBytes(n1, symmetric ? 0 : n2, perExample, dtype);
        boolean tileable = ntk.tileable(perExample, dtype);
        List<Method> methods = new ArrayList<>();
        if (kind.sketched()) {
            methods.add(Method.JACOBIAN_CONTRACTION); // its sketch runs on Jacobian rows whatever the method
        } else if (ntk.method() != Method.AUTO) {
            methods.add(ntk.method());
        } else {
            methods.add(Method.STRUCTURED_DERIVATIVES);
            methods.add(Method.JACOBIAN_CONTRACTION);
            methods.add(Method.NTK_VECTOR_PRODUCTS);
        }
        Costs costs = new Costs(plain, perExample, dtype, tail);
        TilePlan best = null;
        long smallest = Long.MAX_VALUE;
        Method smallestMethod = null;
        String tooBig = null;
        long tooBigNeed = Long.MAX_VALUE;
        for (Method m : methods) {
            if (!tileable) {
                // the one block is the untiled kernel, which holds the inputs itself
                int c = symmetric ? 0 : n2;
                long bb = untiledBlockBudget(costs, m, n1, c, inputBytes);
                long need = inputBytes + costs.blockPeak(m, n1, c, false, bb);
                long least = inputBytes + costs.blockPeak(m, n1, c, false, SMALLEST);
                if (least < smallest) {
                    smallest = least;
                    smallestMethod = m;
                }
                if (need <= budget) {
                    TilePlan p = build(m, n1, n2, perExample, dtype, shape, new int[] {0, n1},
                            new int[] {0, m2}, axes, 1, need, bb, CORES, costs, false);
                    best = better(best, p);
                }
                continue;
            }
            int maxT = Math.max(n1, m2);
            int minT = Math.min(QUANTUM, maxT);
            long needOne = peak(costs, m, minT, n1, m2, symmetric, inputBytes, 1,
                    blockBudget(costs, m, minT, n1, m2, symmetric, inputBytes));
            long least = peak(costs, m, minT, n1, m2, symmetric, inputBytes, 1, SMALLEST);
            if (least < smallest) {
                smallest = least;
                smallestMethod = m;
            }
            // the grid depends on the problem, the budget and the machine's cores, never on the workers asked
            // for: then the result is the same whatever the number of workers (float32 GEMMs round differently
            // for other tile sizes)
            // Blocks run whole whenever the smallest tiles' do fit: a block in chunks of outputs or tiles of basis
            // vectors repeats its passes, so larger tiles in that form are no gain (600 examples of the
            // fcn(depth=3,width=512,out=10) full kernel under 24 MiB: 21 tiles of 112 in chunks 10.2 s, 190 whole
            // tiles of 32 3.7 s). A --tile given, or a resumed run's recorded block budget, decides for itself.
            boolean wholeBlocks = tile == 0 && blockBudget == 0
                    && peak(costs, m, minT, n1, m2, symmetric, inputBytes, 1, Long.MAX_VALUE) <= budget;
            int t;
            if (tile > 0) {
                t = Math.min(roundUp(tile), maxT);
                long need = peak(costs, m, t, n1, m2, symmetric, inputBytes, 1,
                        blockBudget(costs, m, t, n1, m2, symmetric, inputBytes));
                if (need > budget) {
                    // the least budget for these tiles: their blocks in their smallest steps (chunks of outputs,
                    // tiles of basis vectors), as for the smallest tiles below, not whole as this budget sized them
                    long leastForT = peak(costs, m, t, n1, m2, symmetric, inputBytes, 1, SMALLEST);
                    if (leastForT < tooBigNeed) { // AUTO: the method whose tiles of this size need least
                        tooBigNeed = leastForT;
                        tooBig = "--tile " + tile + " with method " + m.shortName() + " needs "
                                + CostModel.humanAtLeast(leastForT) + " but the budget is " + CostModel.human(budget);
                    }
                    continue;
                }
            } else {
                if (needOne > budget) {
                    continue;
                }
                // the largest multiple of QUANTUM (or the whole) that fits
                int lo = 1;
                int hi = (maxT + QUANTUM - 1) / QUANTUM;
                while (lo < hi) {
                    int mid = lo + (hi - lo + 1) / 2;
                    int tm = Math.min(mid * QUANTUM, maxT);
                    // the search prices the full tiles only (each remainder is another batch size to trace); the
                    // size it finds is checked with every block below
                    if (peak(costs, m, tm, n1, m2, symmetric, inputBytes, 1, wholeBlocks ? Long.MAX_VALUE
                            : blockBudget(costs, m, tm, n1, m2, symmetric, inputBytes, false), false) <= budget) {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                t = Math.min(lo * QUANTUM, Math.min(maxT, balanced(n1, m2, symmetric, CORES)));
                // the peak need not grow with the tile (a product of fewer rows may read its weight through a
                // transposed copy: 64 examples of a 3072-wide layer need more than 80), so the balanced size below
                // the largest that fits may not fit itself: then the largest multiple of QUANTUM below it that does
                // (the smallest tiles fit, needOne above)
                while (t > minT && peak(costs, m, t, n1, m2, symmetric, inputBytes, 1, wholeBlocks ? Long.MAX_VALUE
                        : blockBudget(costs, m, t, n1, m2, symmetric, inputBytes)) > budget) {
                    t = Math.max(minT, (t - 1) / QUANTUM * QUANTUM);
                }
            }
            int[] rows = bounds(n1, t);
            int[] cols = symmetric ? rows : bounds(m2, t);
            // sized for the machine's cores, so that the blocks' bits never depend on the workers asked for
            long bb = wholeBlocks ? Long.MAX_VALUE : blockBudget(costs, m, t, n1, m2, symmetric, inputBytes);
            int tiles = TilePlan.enumerate(rows, cols, symmetric).size();
            // the most blocks the budget allows at once (the peak grows with their number), up to the cores or the
            // workers asked for, whichever is more
            int most = Math.min(Math.max(CORES, workers), tiles);
            while (most > 1 && peak(costs, m, t, n1, m2, symmetric, inputBytes, most, bb) > budget) {
                most--;
            }
            // the BLAS threads come from the blocks that fit at once on this machine's cores, never from the
            // workers asked for: they share the cores, so a budget that allows fewer blocks than cores uses them all
            int fitOnCores = Math.min(most, CORES);
            int threads = tiles == 1 ? CORES : blasThreads > 0 ? blasThreads : Math.max(1, CORES / fitOnCores);
            int w = Math.min(most, workers); // fewer tiles at once rather than other tiles
            if (threads > 1) {
                w = Math.min(w, Math.max(1, CORES / threads)); // tiles on several BLAS threads: not more than the cores
            }
            TilePlan p = build(m, n1, n2, perExample, dtype, shape, rows, cols, axes, w,
                    peak(costs, m, t, n1, m2, symmetric, inputBytes, w, bb), bb, threads, costs, true);
            best = better(best, p);
        }
        if (best == null) {
            if (tooBig != null && smallest <= budget) {
                throw new IllegalArgumentException("memory budget: " + tooBig + " (choose a smaller --tile or none)");
            }
            int smallestTile = Math.min(QUANTUM, Math.max(n1, m2));
            if (tooBig != null) {
                // the tiles asked for need more than the smallest: the least budget for them, not for those
                throw new IllegalArgumentException("memory budget: " + tooBig + ": raise --memory to at least "
                        + CostModel.humanAtLeast(tooBigNeed) + (smallest < tooBigNeed ? " (the smallest tiles, "
                        + smallestTile + " examples, need " + CostModel.humanAtLeast(smallest) + ")" : ""));
            }
            throw new IllegalArgumentException("memory budget: " + CostModel.human(budget) + " is too small for the "
                    + kind + " kernel of " + n1 + " × " + m2 + " examples of " + Shapes.str(perExample) + " ("
                    + dtype.shortName() + "); the smallest " + (tileable ? "tiles (" + smallestTile
                    + (smallestTile == 1 ? " example" : " examples") : "run (one tile, the model "
                    + "mixes examples") + ", method " + (smallestMethod == null ? "-" : smallestMethod.shortName())
                    + ") need " + CostModel.humanAtLeast(smallest) + ": raise --memory to at least "
                    + CostModel.humanAtLeast(smallest));
        }
        return best;
    }

    private static TilePlan better(TilePlan a, TilePlan b) {
        return a == null || b.method().autoCost(b.flops()) < a.method().autoCost(a.flops()) ? b : a;
    }

    /**
     * On several cores, the largest tile size that still gives each core about {@link #TILES_PER_WORKER} tiles
     * (so that no worker idles at the end while another finishes a big tile); the whole otherwise.
     */
    static int balanced(int n1, int n2, boolean symmetric, int workers) {
        int maxT = Math.max(n1, n2);
        if (workers <= 1) {
            return maxT;
        }
        for (int g = 1; g <= maxT; g++) { // g × g grid of the larger side
            int t = roundUp((maxT + g - 1) / g);
            int rows = (n1 + t - 1) / t;
            int cols = (n2 + t - 1) / t;
            long tiles = symmetric ? (long) rows * (rows + 1) / 2 : (long) rows * cols;
            if (tiles >= (long) TILES_PER_WORKER * workers || t <= QUANTUM) {
                return t;
            }
        }
        return QUANTUM;
    }

    /** t rounded up to a multiple of {@link #QUANTUM}. */
    static int roundUp(int t) {
        return (int) Math.min(Integer.MAX_VALUE - QUANTUM, ((long) t + QUANTUM - 1) / QUANTUM * QUANTUM);
    }

    /** 0, t, 2t, ..., n. */
    static int[] bounds(int n, int t) {
        int count = (n + t - 1) / t;
        int[] b = new int[count + 1];
        for (int i = 0; i < count; i++) {
            b[i] = i * t;
        }
        b[count] = n;
        return b;
    }

    /** {@link Costs#blockPeak}'s block budget for a method in its smallest steps ({@link CostModel#smallestSteps}). */
    private static final long SMALLEST = 0;

    /**
     * Whether a block of method m that does not fit whole runs within a per-block budget: NTK-vector products over
     * tiles of basis vectors, structured derivatives over chunks of outputs (as the untiled kernel does within its
     * budget); Jacobian contraction has no such form.
     */
    private boolean sizedToBlockBudget(Method m) {
        return !kind.sketched() && (m == Method.NTK_VECTOR_PRODUCTS || m == Method.STRUCTURED_DERIVATIVES);
    }

    /**
     * The budget a t × t block is sized to: {@link Long#MAX_VALUE} (whole) unless the method has a form within a budget
     * ({@link #sizedToBlockBudget}) and its whole block does not fit; then what the budget leaves each of as many
     * blocks at once as the machine has cores (at most the tiles; fewer when not even blocks of one basis vector per
     * step would fit that many), less the margin. A function of the problem, the budget and the cores, like the grid,
     * never of the workers asked for. (Blocks of one basis vector per step, or of one output per chunk.)
     */
    private long blockBudget(Costs costs, Method m, int t, int n1, int n2, boolean symmetric, long inputBytes) {
        return blockBudget(costs, m, t, n1, n2, symmetric, inputBytes, true);
    }

    /** {@link #blockBudget}, the run priced by its full tiles alone unless {@code everyBlock} ({@link #peak}). */
    private long blockBudget(Costs costs, Method m, int t, int n1, int n2, boolean symmetric, long inputBytes,
                             boolean everyBlock) {
        if (blockBudget > 0) {
            return blockBudget;
        }
        if (!sizedToBlockBudget(m)
                || peak(costs, m, t, n1, n2, symmetric, inputBytes, 1, Long.MAX_VALUE, everyBlock) <= budget) {
            return Long.MAX_VALUE;
        }
        int r = Math.min(t, n1);
        long mirror = symmetric && r < n1 ? (long) r * r * costs.tail * costs.dtype.bytes() : 0;
        long rows = (n1 + t - 1) / t;
        long tiles = symmetric ? rows * (rows + 1) / 2 : rows * ((n2 + t - 1) / t);
        for (int at = (int) Math.min(CORES, tiles); at >= 1; at--) {
            long room = (long) ((budget - inputBytes - at * mirror) / (at * SAFETY));
            if (room >= 1 && (at == 1
                    || peak(costs, m, t, n1, n2, symmetric, inputBytes, at, room, everyBlock) <= budget)) {
                return room;
            }
        }
        return Long.MAX_VALUE;
    }

    /**
     * The budget of the one block of a model that is not tileable (the untiled kernel, which holds the inputs
     * itself; no margin, as its need is counted without one): whole unless a method with a form within a budget
     * does not fit whole.
     */
    private long untiledBlockBudget(Costs costs, Method m, int n1, int n2, long inputBytes) {
        if (blockBudget > 0) {
            return blockBudget;
        }
        if (!sizedToBlockBudget(m) || inputBytes + costs.blockPeak(m, n1, n2, false, Long.MAX_VALUE) <= budget) {
            return Long.MAX_VALUE;
        }
        return Math.max(1, budget - inputBytes);
    }

    /**
     * Predicted peak of a run with t × t tiles, w workers and blocks sized to {@code blockBudget} (see the class
     * comment): each worker's the largest of the grid's blocks, each priced at its own size — the full tiles', and
     * those of the last row and column, which take the remainder. A smaller block need not need less: a product of
     * fewer rows may read its weight through a transposed copy, and a tile of one example whose trace moves the
     * examples off axis 0 runs the exact batch path ({@link KernelStrategy#exactBlock}), its batch Jacobians formed
     * from both tiles' examples alone (no pass held beside them).
     */
    private static long peak(Costs costs, Method m, int t, int n1, int n2, boolean symmetric, long inputBytes,
                             int w, long blockBudget) {
        return peak(costs, m, t, n1, n2, symmetric, inputBytes, w, blockBudget, true);
    }

    /** {@link #peak}, or, unless {@code everyBlock}, that of the full tiles' blocks alone (a search's first guess). */
    private static long peak(Costs costs, Method m, int t, int n1, int n2, boolean symmetric, long inputBytes,
                             int w, long blockBudget, boolean everyBlock) {
        int r = Math.min(t, n1);
        int c = Math.min(t, n2);
        long block = (long) r * c * costs.tail * costs.dtype.bytes();
        if (block > Tiles.MAX_TENSOR_BYTES) {
            return Long.MAX_VALUE / 4; // one block must fit one tensor
        }
        long per = 0;
        int[] rowSizes = everyBlock ? tileSizes(n1, t) : new int[] {r};
        if (symmetric) {
            for (int a : rowSizes) { // the diagonal blocks
                per = Math.max(per, costs.blockPeak(m, a, 0, true, blockBudget));
            }
            if (r < n1) {
                // the blocks above the diagonal (all in rows of full tiles) and their mirrors
                for (int b : rowSizes) {
                    per = Math.max(per, costs.blockPeak(m, r, b, true, blockBudget)
                            + (long) r * b * costs.tail * costs.dtype.bytes());
                }
            }
        } else {
            for (int a : rowSizes) {
                for (int b : everyBlock ? tileSizes(n2, t) : new int[] {c}) {
                    per = Math.max(per, costs.blockPeak(m, a, b, true, blockBudget));
                }
            }
        }
        return inputBytes + w * per;
    }

    /** The sizes of the tiles of t examples over n: min(t, n), and the last tile's remainder where there is one. */
    static int[] tileSizes(int n, int t) {
        return n > t && n % t != 0 ? new int[] {t, n % t} : new int[] {Math.min(t, n)};
    }

    private TilePlan build(Method m, int n1, int n2, int[] perExample, DType dtype, int[] shape, int[] rows,
                           int[] cols, KernelAxes axes, int w, long peak, long blockBudget, int blasThreads,
                           Costs costs, boolean tileable) {
        boolean symmetric = n2 == 0;
        List<TilePlan.Tile> tiles = TilePlan.enumerate(rows, cols, symmetric);
        // each tile's share, by entries, of the untiled kernel's predicted FLOPs (within the per-block budget):
        // rates achieved by tiled runs compare with the untiled run's, whatever work the tiles repeat
        double whole = costs.estimate(m, n1, n2, blockBudget).flops();
        double entries = (double) n1 * (symmetric ? n1 : n2);
        double[] flops = new double[tiles.size()];
        for (TilePlan.Tile tl : tiles) {
            flops[tl.index()] = whole * (double) tl.rows() * tl.columns() * (tl.mirrored() ? 2 : 1) / entries;
        }
        return new TilePlan(kind, m, dtype, perExample, n1, symmetric ? n1 : n2, symmetric, shape, rows, cols,
                axes.mirrorPermutation(), w, budget, blockBudget, blasThreads, peak, flops, tileable);
    }

    /** Cost model estimates per block shape, cached (the planner asks for the same shapes many times). */
    private final class Costs {
        final EmpiricalNtk plain;
        final int[] perExample;
        final DType dtype;
        final int tail;
        private final Map<String, CostModel.Estimate> cache = new HashMap<>();

        Costs(EmpiricalNtk plain, int[] perExample, DType dtype, int tail) {
            this.plain = plain;
            this.perExample = perExample;
            this.dtype = dtype;
            this.tail = tail;
        }

        /**
         * The estimate of a block r × c run whole ({@code blockBudget} {@link Long#MAX_VALUE}), within
         * {@code blockBudget} bytes, or in its smallest steps ({@link #SMALLEST}; NTK-vector products only).
         */
        CostModel.Estimate estimate(Method m, int r, int c, long blockBudget) {
            return cache.computeIfAbsent(m + " " + r + " " + c + " " + blockBudget, k -> {
                if (kind.sketched()) { // each tile's sketch from its Jacobian rows, then the block
                    return ProjectedSketch.estimate(plain, kind, r, c, Math.max(r, c), perExample, dtype);
                }
                CostModel model = plain.costModel(r, c, perExample, dtype);
                if (blockBudget == Long.MAX_VALUE || !sizedToBlockBudget(m)) {
                    return model.estimate(m);
                }
                return blockBudget == SMALLEST ? model.smallestSteps(m) : model.estimate(m, blockBudget);
            });
        }

        /**
         * Bytes of one block r × c (c = 0: x1 with itself) sized to {@code blockBudget} as in {@link #estimate},
         * with the safety margin; for projected:K, {@link ProjectedSketch#estimate}: both tiles' sketches [n, O, K]
         * and the Jacobian rows each is made from.
         */
        long blockPeak(Method m, int r, int c, boolean withSafety, long blockBudget) {
            long p = estimate(m, r, c, blockBudget).peakBytes();
            if (p == Long.MAX_VALUE) {
                return Long.MAX_VALUE / 4;
            }
            return withSafety ? (long) Math.ceil(SAFETY * p) : p;
        }
    }
}
