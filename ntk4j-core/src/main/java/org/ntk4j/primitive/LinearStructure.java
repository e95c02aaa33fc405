package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.graph.TensorType;
import org.ntk4j.tensor.Tensor;

/**
 * The structure of ∂out/∂operand for a primitive that is linear in one operand (the others held fixed) and
 * moves its elements without mixing them — neural-tangents' {@code Structure} for the layout primitives. The
 * Jacobian is {@code scale} times a 0/1 map described axis by axis; for each result axis j:
 * <ul>
 *   <li>{@link AxisMap#SAME}: result index i is operand index i of axis {@code source(j)} (neural-tangents'
 *       "trace" axes: ∂out/∂operand is the identity there);</li>
 *   <li>{@link AxisMap#BROADCAST}: the result is constant along j — a new axis ({@code source(j) = -1}) or an
 *       operand axis of size 1 (the "broadcast" axes);</li>
 *   <li>{@link AxisMap#SELECT}: result index i reads operand index {@code offset(j) + i·step(j)} (slice; a step
 *       of −1 from offset n − 1 reverses the axis: rev);</li>
 *   <li>{@link AxisMap#EMBED}: operand index m lands at result index {@code offset(j) + m·step(j)}, every other
 *       result index is 0 and operand indices outside the result are dropped (pad, concatenate).</li>
 * </ul>
 * Operand axes that no result axis reads are summed over (reduce_sum). A <em>regroup</em> (reshape) keeps the
 * row-major order of the elements and splits or merges axes. Structured derivatives composes these along the
 * example-independent path from a parameter to the equation where it meets the data (see
 * {@code org.ntk4j.ntk.PathGram}); a primitive without a structure answers null and sends its parameters to
 * the dense fallback.
 */
public final class LinearStructure {
    /** How one result axis reads the operand. */
    public enum AxisMap {
        /** Result index i is operand index i of the source axis (a "trace" axis: the identity). */
        SAME,
        /** The result is constant along the axis: a new axis, or an operand axis of size 1. */
        BROADCAST,
        /**
         * Result index i reads operand index {@code offset + i·step} of the source axis (slice; a negative step walks
         * the axis backwards: rev). Distinct result indices read distinct operand indices.
         */
        SELECT,
        /** Operand index m lands at result index {@code offset + m·step}; other result indices are 0 (pad). */
        EMBED
    }

    private final double scale;
    private final boolean regroup;
    private final int[] source;
    private final AxisMap[] map;
    private final int[] offset;
    private final int[] step;

    private LinearStructure(double scale, boolean regroup, int[] source, AxisMap[] map, int[] offset, int[] step) {
        this.scale = scale;
        this.regroup = regroup;
        this.source = source;
        this.map = map;
        this.offset = offset;
        this.step = step;
    }

    /**
     * An axis-by-axis structure; the arrays have one entry per result axis.
     *
     * @param scale the factor the 0/1 map is multiplied by
     * @param source per result axis, the operand axis it reads, or -1 for a new axis; copied
     * @param map per result axis, how it reads the operand; copied
     * @param offset per result axis, the first index for {@link AxisMap#SELECT}/{@link AxisMap#EMBED}; copied
     * @param step per result axis, the index step for {@link AxisMap#SELECT}/{@link AxisMap#EMBED}; copied
     * @return the structure
     * @throws IllegalArgumentException if the arrays differ in length
     */
    public static LinearStructure axes(double scale, int[] source, AxisMap[] map, int[] offset, int[] step) {
        int n = source.length;
        if (map.length != n || offset.length != n || step.length != n) {
            throw new IllegalArgumentException("linear structure: " + n + " result axes but " + map.length + " maps, "
                    + offset.length + " offsets and " + step.length + " steps");
        }
        return new LinearStructure(scale, false, source.clone(), map.clone(), offset.clone(), step.clone());
    }

    /**
     * The operand itself times {@code scale} (neg, multiplication by a scalar constant).
     *
     * @param rank the rank of the operand (and result)
     * @param scale the factor
     * @return the structure: every axis {@link AxisMap#SAME}
     */
    public static LinearStructure elementwise(int rank, double scale) {
        int[] src = new int[rank];
        for (int i = 0; i < rank; i++) {
            src[i] = i;
        }
        AxisMap[] m = new AxisMap[rank];
        Arrays.fill(m, AxisMap.SAME);
        return new LinearStructure(scale, false, src, m, new int[rank], new int[rank]);
    }

    /**
     * Result axis i is operand axis {@code perm[i]} (transpose).
     *
     * @param perm the permutation, copied; not validated here
     * @return the structure, with scale 1
     */
    public static LinearStructure permutation(int[] perm) {
        AxisMap[] m = new AxisMap[perm.length];
        Arrays.fill(m, AxisMap.SAME);
        return new LinearStructure(1, false, perm.clone(), m, new int[perm.length], new int[perm.length]);
    }

    /**
     * The same elements in row-major order under another shape (reshape).
     *
     * @return a regroup structure, with scale 1 and no axis maps
     */
    public static LinearStructure regroup() {
        return new LinearStructure(1, true, new int[0], new AxisMap[0], new int[0], new int[0]);
    }

    /**
     * NumPy broadcasting of an operand of type {@code in} to {@code out} (right-aligned), times {@code scale}:
     * the structure of add/sub with respect to either operand.
     *
     * @param in the operand type, of rank at most {@code out}'s
     * @param out the result type
     * @param scale the factor (1 for add, -1 for the right operand of sub)
     * @return the structure: {@link AxisMap#BROADCAST} on new and stretched axes, {@link AxisMap#SAME} elsewhere
     */
    public static LinearStructure broadcast(TensorType in, TensorType out, double scale) {
        int r = out.rank();
        int lead = r - in.rank();
        int[] src = new int[r];
        AxisMap[] m = new AxisMap[r];
        for (int j = 0; j < r; j++) {
            int k = j - lead;
            src[j] = k;
            m[j] = k < 0 || (in.dim(k) == 1 && out.dim(j) != 1) ? AxisMap.BROADCAST : AxisMap.SAME;
        }
        return new LinearStructure(scale, false, src, m, new int[r], new int[r]);
    }

    /**
     * Whether the result is the operand itself times {@link #scale()}, element for element: every result axis
     * {@link AxisMap#SAME} on the operand axis of its own index (neg, a product with a scalar constant), no regroup.
     * A permutation is not, even where it keeps the shape.
     *
     * @return true for an elementwise scaling
     */
    public boolean isElementwise() {
        if (regroup) {
            return false;
        }
        for (int j = 0; j < map.length; j++) {
            if (map[j] != AxisMap.SAME || source[j] != j) {
                return false;
            }
        }
        return true;
    }

    /** The value of a scalar constant operand, or NaN when {@code t} is not a one-element constant. */
    static double scalarConstant(Tensor t) {
        return t != null && t.size() == 1 ? t.getFlat(0) : Double.NaN;
    }

    /**
     * The factor the 0/1 map is multiplied by.
     *
     * @return the scale
     */
    public double scale() {
        return scale;
    }

    /**
     * Whether this is a regroup (reshape): no axis maps, the row-major order is kept.
     *
     * @return true for a regroup
     */
    public boolean isRegroup() {
        return regroup;
    }

    /**
     * Number of result axes described.
     *
     * @return the number of result axes, 0 for a regroup
     */
    public int resultAxes() {
        return source.length;
    }

    /**
     * The operand axis that result axis j reads.
     *
     * @param j a result axis, below {@link #resultAxes()}
     * @return the operand axis, or -1 for a new (broadcast) axis
     */
    public int source(int j) {
        return source[j];
    }

    /**
     * How result axis j reads the operand.
     *
     * @param j a result axis, below {@link #resultAxes()}
     * @return the axis map
     */
    public AxisMap map(int j) {
        return map[j];
    }

    /**
     * The first index of result axis j's {@link AxisMap#SELECT} or {@link AxisMap#EMBED}; unused by the other maps.
     *
     * @param j a result axis, below {@link #resultAxes()}
     * @return the offset
     */
    public int offset(int j) {
        return offset[j];
    }

    /**
     * The index step of result axis j's {@link AxisMap#SELECT} or {@link AxisMap#EMBED}; unused by the other maps.
     *
     * @param j a result axis, below {@link #resultAxes()}
     * @return the step
     */
    public int step(int j) {
        return step[j];
    }

    @Override
    public String toString() {
        if (regroup) {
            return "regroup";
        }
        StringBuilder sb = new StringBuilder("scale " + scale + ":");
        for (int j = 0; j < source.length; j++) {
            sb.append(' ').append(map[j]).append('(').append(source[j]);
            if (map[j] == AxisMap.SELECT || map[j] == AxisMap.EMBED) {
                sb.append(", ").append(offset[j]).append(", ").append(step[j]);
            }
            sb.append(')');
        }
        return sb.toString();
    }
}
