package org.ntk4j.primitive;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Helpers for rules on stacked tangents and cotangents, whose axis 0 is the K vectors. NumPy broadcasting
 * aligns shapes on the right, so a stacked value {@code [K] + s} must first get axes of size 1 inserted after
 * K to reach the rank of the result before it broadcasts against unstacked primals correctly.
 */
public final class Stacked {
    private Stacked() {
    }

    /**
     * {@code [K] + s} reshaped to {@code [K] + [1]*(rank - |s|) + s}.
     *
     * @param t a stacked value {@code [K] + s}
     * @param rank the unstacked rank to reach
     * @return the reshaped value, or {@code t} itself when {@code |s| >= rank}
     */
    public static Var align(Var t, int rank) {
        int[] s = t.shape();
        int have = s.length - 1;
        if (have >= rank) {
            return t;
        }
        int[] r = new int[rank + 1];
        r[0] = s[0];
        for (int i = 1; i <= rank; i++) {
            int j = i - (rank - have);
            r[i] = j >= 1 ? s[j] : 1;
        }
        return t.reshape(r);
    }

    /**
     * {@code [K] + s} broadcast to {@code [K] + shape}.
     *
     * @param t a stacked value {@code [K] + s}, with {@code s} broadcastable to {@code shape} (NumPy rules)
     * @param shape the unstacked target shape
     * @return the broadcast value {@code [K] + shape}
     */
    public static Var broadcastTo(Var t, int[] shape) {
        return align(t, shape.length).broadcastTo(Shapes.prepend(t.dim(0), shape));
    }

    /**
     * Adjoint of broadcasting: sums a stacked cotangent {@code [K] + outShape} over the axes along which an
     * operand of shape {@code inShape} was broadcast, giving {@code [K] + inShape}.
     *
     * @param ct the stacked cotangent {@code [K] + outShape}
     * @param inShape the unstacked operand shape, broadcastable to {@code outShape}
     * @return the summed cotangent {@code [K] + inShape}
     */
    public static Var unbroadcast(Var ct, int[] inShape) {
        int[] axes = broadcastAxes(ct.shape(), inShape);
        Var r = axes.length == 0 ? ct : ct.sum(axes);
        return r.reshape(Shapes.prepend(ct.dim(0), inShape));
    }

    /**
     * The axes of a stacked cotangent of shape {@code cs} = [K] + outShape along which an operand of shape
     * {@code inShape} was broadcast (new leading axes, and its size-1 axes against larger ones), in order.
     */
    private static int[] broadcastAxes(int[] cs, int[] inShape) {
        int outRank = cs.length - 1;
        int lead = outRank - inShape.length;
        List<Integer> axes = new ArrayList<>();
        for (int i = 0; i < outRank; i++) {
            int j = i - lead;
            if (j < 0 || (inShape[j] == 1 && cs[i + 1] != 1)) {
                axes.add(i + 1);
            }
        }
        return axes.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * {@code unbroadcast(ct · other, inShape)}, the cotangent of an operand of shape {@code inShape} multiplied by
     * {@code other}: when {@code other} has the product's full unstacked shape and the summed axes are consecutive
     * (a per-channel scale [C] against [N, H, W, C]: axes 1-3 of [K, N, H, W, C]), one {@link SumOfProducts}
     * that never writes the product out, then a reshape; otherwise the product and {@link #unbroadcast}.
     *
     * @param ct the stacked cotangent {@code [K] + outShape}
     * @param other the other factor, broadcastable to {@code outShape}
     * @param inShape the unstacked operand shape, broadcastable to {@code outShape}
     * @return the summed cotangent {@code [K] + inShape}
     */
    public static Var unbroadcastProduct(Var ct, Var other, int[] inShape) {
        int[] cs = ct.shape();
        int[] axes = broadcastAxes(cs, inShape);
        boolean consecutive = axes.length > 0 && axes[axes.length - 1] - axes[0] == axes.length - 1;
        boolean full = java.util.Arrays.equals(other.shape(), Shapes.dropFirst(cs));
        if (!consecutive || !full) {
            return unbroadcast(ct.mul(other), inShape);
        }
        return ct.builder().apply(new SumOfProducts(axes[0], axes[axes.length - 1] + 1), ct, other)
                .reshape(Shapes.prepend(cs[0], inShape));
    }

    /**
     * a + b where either may be null (a zero).
     *
     * @param a a value, or null for zero
     * @param b a value, or null for zero
     * @return the sum; the other operand when one is null; null when both are
     */
    public static Var add(Var a, Var b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return a.add(b);
    }

    /**
     * Each axis shifted by one (past the stacked axis).
     *
     * @param axes unstacked axis numbers
     * @return a new array of the same axes in a stacked value
     */
    public static int[] shift(int[] axes) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            r[i] = axes[i] + 1;
        }
        return r;
    }
}
