package org.ntk4j.ntk;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * How a kernel of kind K between n1 and n2 examples is computed in tiles under a memory budget: the method, a
 * grid of row tiles over x1 and column tiles over x2, the tiles to compute (with x2 = x1 only those on and
 * above the diagonal; each block (i, j) above it also gives block (j, i) by {@link #mirrorPermutation()}), the
 * number of tiles computed at once, and the predicted cost. Made by {@link TilePlanner}; immutable and
 * serialisable, so that any process can compute any tile from (plan, tile index) with {@link TiledKernel}.
 *
 * <p>The kernel's layout is that of the untiled kernel: [N1, N2, tail...] with tail the kind's output axes
 * ([O, O] for full, [O] for diagonal, none for the N×N kinds). Tile (i, j) is the block of rows
 * [rowBounds[i], rowBounds[i+1]) and columns [columnBounds[j], columnBounds[j+1]) with its whole tail.
 */
public final class TilePlan implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One block of the kernel. */
    public static final class Tile implements Serializable {
        private static final long serialVersionUID = 1L;
        /** Position in the plan's list of tiles. */
        private final int index;
        /** Row tile i. */
        private final int row;
        /** Column tile j. */
        private final int column;
        /** First row (example of x1), inclusive. */
        private final int rowFrom;
        /** Last row, exclusive. */
        private final int rowTo;
        /** First column (example of x2), inclusive. */
        private final int columnFrom;
        /** Last column, exclusive. */
        private final int columnTo;
        /** Whether the block also fills its mirror (j, i). */
        private final boolean mirrored;
        /** Whether the block is (i, i) of x1 with itself. */
        private final boolean diagonal;

        Tile(int index, int row, int column, int[] rows, int[] columns, boolean symmetric) {
            this.index = index;
            this.row = row;
            this.column = column;
            this.rowFrom = rows[row];
            this.rowTo = rows[row + 1];
            this.columnFrom = columns[column];
            this.columnTo = columns[column + 1];
            this.mirrored = symmetric && row != column;
            this.diagonal = symmetric && row == column;
        }

        /**
         * Position in {@link TilePlan#tiles()}: the order of computation, row by row.
         *
         * @return the index, from 0
         */
        public int index() {
            return index;
        }

        /**
         * Row tile i.
         *
         * @return i, the index of the tile's row in the grid, from 0
         */
        public int row() {
            return row;
        }

        /**
         * Column tile j.
         *
         * @return j, the index of the tile's column in the grid, from 0
         */
        public int column() {
            return column;
        }

        /**
         * First row of the block.
         *
         * @return the first example of x1 in the block, inclusive
         */
        public int rowFrom() {
            return rowFrom;
        }

        /**
         * End of the block's rows.
         *
         * @return the last example of x1 in the block plus one (exclusive)
         */
        public int rowTo() {
            return rowTo;
        }

        /**
         * First column of the block.
         *
         * @return the first example of x2 in the block, inclusive
         */
        public int columnFrom() {
            return columnFrom;
        }

        /**
         * End of the block's columns.
         *
         * @return the last example of x2 in the block plus one (exclusive)
         */
        public int columnTo() {
            return columnTo;
        }

        /**
         * Number of rows of the block.
         *
         * @return rowTo - rowFrom
         */
        public int rows() {
            return rowTo - rowFrom;
        }

        /**
         * Number of columns of the block.
         *
         * @return columnTo - columnFrom
         */
        public int columns() {
            return columnTo - columnFrom;
        }

        /**
         * True when the block also fills its mirror (j, i) below the diagonal (x2 = x1, i &lt; j).
         *
         * @return whether the block is mirrored
         */
        public boolean mirrored() {
            return mirrored;
        }

        /**
         * True for a block (i, i) of x1 with itself.
         *
         * @return whether the block is on the diagonal of a symmetric plan
         */
        public boolean diagonal() {
            return diagonal;
        }

        @Override
        public String toString() {
            return "tile " + index + " (" + row + ", " + column + "): rows [" + rowFrom + ", " + rowTo + "), columns ["
                    + columnFrom + ", " + columnTo + ")";
        }
    }

    /** The kind as {@link KernelKind#toString()} writes it (parsed back by {@link #kind()}). */
    private final String kind;
    /** The kind's seed. */
    private final long kindSeed;
    /** The resolved method, never AUTO. */
    private final Method method;
    /** Element type of the inputs and the kernel. */
    private final DType dtype;
    /** Shape of one example. */
    private final int[] perExample;
    /** Number of examples of x1. */
    private final int n1;
    /** Number of examples of x2 (n1 when x2 = x1). */
    private final int n2;
    /** Whether x2 = x1. */
    private final boolean symmetric;
    /** The kernel's shape, [N1, N2, tail...]. */
    private final int[] shape;
    /** Row tile boundaries over x1. */
    private final int[] rowBounds;
    /** Column tile boundaries over x2. */
    private final int[] columnBounds;
    /** Axis permutation from a block to its mirror. */
    private final int[] mirror;
    /** Tiles computed at once. */
    private final int workers;
    /** The memory budget planned for, in bytes. */
    private final long budgetBytes;
    /** The budget each block is sized to ({@link #blockBudgetBytes()}), or {@link Long#MAX_VALUE}. */
    private final long blockBudgetBytes;
    /** BLAS threads each tile is computed with ({@link #blasThreads()}). */
    private final int blasThreads;
    /** Predicted peak of the tiled run, in bytes. */
    private final long predictedPeakBytes;
    /** Each tile's share of the untiled kernel's FLOPs, in the order of {@link #tiles}. */
    private final double[] tileFlops;
    /** Whether the model allows computing the kernel tile by tile. */
    private final boolean tileable;
    /** The tiles to compute, in order (unmodifiable). */
    private final List<Tile> tiles;

    TilePlan(KernelKind kind, Method method, DType dtype, int[] perExample, int n1, int n2, boolean symmetric,
             int[] shape, int[] rowBounds, int[] columnBounds, int[] mirror, int workers, long budgetBytes,
             long blockBudgetBytes, int blasThreads, long predictedPeakBytes, double[] tileFlops, boolean tileable) {
        this.kind = kind.toString();
        this.kindSeed = kind.seed();
        this.method = method;
        this.dtype = dtype;
        this.perExample = perExample.clone();
        this.n1 = n1;
        this.n2 = n2;
        this.symmetric = symmetric;
        this.shape = shape.clone();
        this.rowBounds = rowBounds.clone();
        this.columnBounds = columnBounds.clone();
        this.mirror = mirror.clone();
        this.workers = workers;
        this.budgetBytes = budgetBytes;
        this.blockBudgetBytes = blockBudgetBytes;
        this.predictedPeakBytes = predictedPeakBytes;
        this.tileFlops = tileFlops.clone();
        this.tileable = tileable;
        this.tiles = Collections.unmodifiableList(enumerate(rowBounds, columnBounds, symmetric));
        this.blasThreads = blasThreads;
        if (tiles.size() != tileFlops.length) {
            throw new IllegalStateException("tile plan: " + tiles.size() + " tiles but " + tileFlops.length
                    + " FLOP counts");
        }
    }

    /**
     * The tiles of a grid, in the order of computation: row by row; with x2 = x1 ({@code symmetric}) only j &gt;= i,
     * those with j &gt; i mirrored. What {@link #tiles()} holds, for a grid known only by its bounds (a tile
     * manifest's header).
     *
     * @param rows the row tiles' bounds (0, ..., n1)
     * @param columns the column tiles' bounds (0, ..., n2)
     * @param symmetric whether x2 = x1
     * @return the tiles, indexed from 0
     */
    public static List<Tile> enumerate(int[] rows, int[] columns, boolean symmetric) {
        List<Tile> r = new ArrayList<>();
        for (int i = 0; i < rows.length - 1; i++) {
            for (int j = symmetric ? i : 0; j < columns.length - 1; j++) {
                r.add(new Tile(r.size(), i, j, rows, columns, symmetric));
            }
        }
        return r;
    }

    /**
     * The kind, as {@link KernelKind#parse} reads it.
     *
     * @return a new kind equal to the one planned for, seed included
     */
    public KernelKind kind() {
        return KernelKind.parse(kind, kindSeed);
    }

    /**
     * The method every tile runs.
     *
     * @return the resolved method, never AUTO
     */
    public Method method() {
        return method;
    }

    /**
     * Element type of the inputs and the kernel.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * Shape of one example.
     *
     * @return a copy of the per-example shape, without the batch axis
     */
    public int[] perExample() {
        return perExample.clone();
    }

    /**
     * Number of examples of x1.
     *
     * @return N1
     */
    public int n1() {
        return n1;
    }

    /**
     * Number of examples of x2.
     *
     * @return N2; equal to N1 when x2 = x1 (see {@link #symmetric()})
     */
    public int n2() {
        return n2;
    }

    /**
     * True when x2 = x1: only the tiles on and above the diagonal are computed, the others mirrored.
     *
     * @return whether the plan is symmetric
     */
    public boolean symmetric() {
        return symmetric;
    }

    /**
     * The kernel's shape, [N1, N2, tail...].
     *
     * @return a copy of the shape
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * Elements of the kernel (may pass 2^31).
     *
     * @return the product of {@link #shape()}
     */
    public long elements() {
        long s = 1;
        for (int d : shape) {
            s *= d;
        }
        return s;
    }

    /**
     * Elements of the tail: one (row, column) entry of the kernel.
     *
     * @return O² for full, O for diagonal, 1 for the N×N kinds
     */
    public int tailElements() {
        return Shapes.size(java.util.Arrays.copyOfRange(shape, 2, shape.length));
    }

    /**
     * Row tile boundaries over x1: 0 = b[0] &lt; ... &lt; b[t] = n1.
     *
     * @return a copy of the t + 1 boundaries
     */
    public int[] rowBounds() {
        return rowBounds.clone();
    }

    /**
     * Column tile boundaries over x2: 0 = b[0] &lt; ... &lt; b[t] = n2.
     *
     * @return a copy of the boundaries
     */
    public int[] columnBounds() {
        return columnBounds.clone();
    }

    /**
     * Size of the row tiles (the last may be smaller).
     *
     * @return rows of the first row tile
     */
    public int rowTile() {
        return rowBounds[1] - rowBounds[0];
    }

    /**
     * Size of the column tiles (the last may be smaller).
     *
     * @return columns of the first column tile
     */
    public int columnTile() {
        return columnBounds[1] - columnBounds[0];
    }

    /**
     * The permutation of the kernel's axes taking block (i, j) to its mirror (j, i): see {@link KernelAxes}.
     *
     * @return a copy of the permutation
     */
    public int[] mirrorPermutation() {
        return mirror.clone();
    }

    /**
     * Tiles computed at once.
     *
     * @return the number of workers the budget allows, at least 1
     */
    public int workers() {
        return workers;
    }

    /**
     * The memory budget the plan was made for.
     *
     * @return the budget in bytes
     */
    public long budgetBytes() {
        return budgetBytes;
    }

    /**
     * The memory budget each block's computation is sized to, or {@link Long#MAX_VALUE} when blocks run whole.
     * Finite only for NTK-vector products and structured derivatives whose whole block would not fit: each block
     * then runs over tiles of basis vectors, or chunks of outputs, sized to this budget
     * ({@link CostModel#estimate(Method, long)}), the same in every process that computes the plan's blocks,
     * whatever its own budget or number of workers.
     *
     * @return the per-block budget in bytes, or {@link Long#MAX_VALUE}
     */
    public long blockBudgetBytes() {
        return blockBudgetBytes;
    }

    /**
     * The BLAS threads every process computes a tile with: the cores of the machine that made the plan divided by
     * the blocks its budget allows at once on those cores (one when as many blocks as cores fit: the parallelism is
     * then the tiles computed at once; all the cores for a single tile, which nothing runs beside, or where the
     * budget allows one block at a time). Fixed in the plan (and recorded by a tiled run, kept by
     * {@code --resume}), never the workers asked for: a GEMM split over threads is computed in blocks whose bits
     * may depend on their size, so a tile has the same bits wherever and whenever it is computed.
     *
     * @return the BLAS thread count, at least 1
     */
    public int blasThreads() {
        return blasThreads;
    }

    /**
     * Predicted peak of the tiled run: the inputs plus, per worker, the cost model's peak for one block (its
     * prepared tiles, the method's intermediates, the block) and the block's mirror.
     *
     * @return the predicted peak in bytes
     */
    public long predictedPeakBytes() {
        return predictedPeakBytes;
    }

    /**
     * The inputs that a run of the plan holds whole: x1, and x2 unless x2 = x1 (the first term of
     * {@link #predictedPeakBytes()}).
     *
     * @return the bytes of the inputs
     */
    public long inputBytes() {
        return inputBytes(n1, symmetric ? 0 : n2, perExample, dtype);
    }

    /** The bytes of n1 + n2 examples of {@code perExample} ({@link TilePlanner}'s inputs term). */
    static long inputBytes(int n1, int n2, int[] perExample, DType dtype) {
        return (long) (n1 + n2) * Shapes.size(perExample) * dtype.bytes();
    }

    /**
     * The same tiles computed by {@code count} workers at once within {@code bytes}: the same grid, method,
     * per-block budget and BLAS threads, so the same bits, with the predicted peak of that many workers (the
     * inputs plus each worker's block). For a process that computes a share of the tiles beside others (a Spark
     * task): its {@link TiledKernel} runs that many threads and keeps a cache of prepared tiles only where it fits
     * in {@code bytes} beside that peak.
     *
     * @param count tiles computed at once, at least 1
     * @param bytes the memory budget of those workers
     * @return the plan for them
     * @throws IllegalArgumentException if {@code count} or {@code bytes} is below 1
     */
    public TilePlan withWorkers(int count, long bytes) {
        if (count < 1 || bytes < 1) {
            throw new IllegalArgumentException("tile plan: expected at least 1 worker and 1 byte, got " + count
                    + " workers and " + bytes + " bytes");
        }
        long perWorker = (predictedPeakBytes - inputBytes()) / workers;
        return new TilePlan(kind(), method, dtype, perExample, n1, n2, symmetric, shape, rowBounds, columnBounds,
                mirror, count, bytes, blockBudgetBytes, blasThreads, inputBytes() + count * perWorker, tileFlops,
                tileable);
    }

    /**
     * False when the model mixes examples: the plan is then one tile, computed by the untiled kernel.
     *
     * @return whether the kernel is computed tile by tile
     */
    public boolean tileable() {
        return tileable;
    }

    /**
     * The tiles to compute, in order.
     *
     * @return an unmodifiable list
     */
    public List<Tile> tiles() {
        return tiles;
    }

    /**
     * Number of tiles to compute.
     *
     * @return the size of {@link #tiles()}
     */
    public int tileCount() {
        return tiles.size();
    }

    /**
     * One tile of the plan.
     *
     * @param index position in {@link #tiles()}
     * @return the tile
     * @throws IllegalArgumentException if the index is outside [0, {@link #tileCount()})
     */
    public Tile tile(int index) {
        if (index < 0 || index >= tiles.size()) {
            throw new IllegalArgumentException("tile: index must be in [0, " + tiles.size() + "), got " + index);
        }
        return tiles.get(index);
    }

    /**
     * Tile {@code index}'s share of the untiled kernel's predicted FLOPs ({@link CostModel}), in proportion to the
     * kernel entries it fills (its mirror included): rates computed from these compare directly with the untiled
     * run's, the work that tiles repeat (preparing a tile more than once) counting as overhead.
     *
     * @param index position in {@link #tiles()}
     * @return the tile's FLOPs
     * @throws ArrayIndexOutOfBoundsException if the index is outside [0, {@link #tileCount()})
     */
    public double tileFlops(int index) {
        return tileFlops[index];
    }

    /**
     * The untiled kernel's predicted FLOPs (the sum of {@link #tileFlops}).
     *
     * @return the FLOPs
     */
    public double flops() {
        double s = 0;
        for (double f : tileFlops) {
            s += f;
        }
        return s;
    }

    /**
     * One line: grid, method, workers, predicted peak against the budget.
     *
     * @return the description, without a line break
     */
    public String describe() {
        return String.format(Locale.ROOT, "%d tile%s of %d × %d (grid %d × %d%s), method %s, %d worker%s, predicted "
                        + "peak %s of the %s budget, %.3g FLOPs", tiles.size(), tiles.size() == 1 ? "" : "s",
                rowTile(), columnTile(), rowBounds.length - 1, columnBounds.length - 1,
                symmetric ? ", upper triangle mirrored" : "", method.shortName()
                        + (blockBudgetBytes == Long.MAX_VALUE ? "" : " (each block in " + (method
                        == Method.STRUCTURED_DERIVATIVES ? "chunks of outputs" : "tiles of basis vectors") + " within "
                        + CostModel.human(blockBudgetBytes) + ")"), workers, workers == 1 ? "" : "s",
                CostModel.human(predictedPeakBytes), CostModel.human(budgetBytes), flops());
    }

    @Override
    public String toString() {
        return describe();
    }
}
