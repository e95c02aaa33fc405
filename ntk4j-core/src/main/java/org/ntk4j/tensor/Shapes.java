package org.ntk4j.tensor;

import java.util.Arrays;

/** Static helpers on shapes (int arrays, row-major). */
public final class Shapes {
    private Shapes() {
    }

    /**
     * Number of elements of a shape (the product of its dimensions; 1 for the scalar shape {@code []}).
     *
     * @param shape the dimensions
     * @return the element count
     * @throws IllegalArgumentException if a dimension is negative or the count exceeds 2^31 - 1
     */
    public static int size(int[] shape) {
        long n = 1;
        boolean empty = false;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + str(shape) + " has a negative dimension");
            }
            empty |= d == 0;
        }
        if (empty) {
            return 0; // [70000, 70000, 0] holds nothing, whatever the product of its other sizes
        }
        for (int d : shape) {
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + str(shape)
                        + " has more than 2^31-1 elements; tile the computation");
            }
        }
        return (int) n;
    }

    /**
     * Product of the dimensions {@code shape[i]} for {@code from <= i < to} (1 when the range is empty).
     * No overflow check, unlike {@link #size(int[])}.
     *
     * @param shape the dimensions
     * @param from first axis, inclusive
     * @param to last axis, exclusive
     * @return the product
     */
    public static int size(int[] shape, int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) {
            n *= shape[i];
        }
        return (int) n;
    }

    /**
     * Row-major (C order) strides of a contiguous array of this shape.
     *
     * @param shape the dimensions
     * @return one stride per axis, in elements (the last axis has stride 1)
     */
    public static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /**
     * Renders a shape for messages.
     *
     * @param shape the dimensions
     * @return text such as {@code [2, 3]}
     */
    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    /**
     * Shape with a new leading axis.
     *
     * @param k size of the new first axis
     * @param shape the remaining dimensions
     * @return a new array {@code [k, shape...]}
     */
    public static int[] prepend(int k, int[] shape) {
        int[] r = new int[shape.length + 1];
        r[0] = k;
        System.arraycopy(shape, 0, r, 1, shape.length);
        return r;
    }

    /**
     * Shape without its first axis.
     *
     * @param shape the dimensions; rank at least 1
     * @return a new array {@code shape[1..]}
     */
    public static int[] dropFirst(int[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length);
    }

    /**
     * Normalises a possibly negative axis (-1 is the last axis) and checks its range.
     *
     * @param op name of the operation, used in the error message
     * @param axis the axis, in {@code -rank..rank-1}
     * @param rank the rank of the operand
     * @return the axis in {@code 0..rank-1}
     * @throws IllegalArgumentException if the axis is out of range
     */
    public static int axis(String op, int axis, int rank) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw new IllegalArgumentException(op + ": axis " + axis + " is out of range for rank " + rank);
        }
        return a;
    }

    /**
     * NumPy broadcasting of two shapes (right-aligned; sizes equal or one of them 1).
     *
     * @param op name of the operation, used in the error message
     * @param a the first shape
     * @param b the second shape
     * @return the broadcast shape, of rank {@code max(a.length, b.length)}
     * @throws IllegalArgumentException naming {@code op} and both shapes when they do not broadcast
     */
    public static int[] broadcast(String op, int[] a, int[] b) {
        return broadcast(op, a, b, true);
    }

    /**
     * {@link #broadcast} for a caller that asks whether two shapes broadcast.
     *
     * @param a the first shape
     * @param b the second shape
     * @return the broadcast shape, or null when they do not broadcast
     */
    public static int[] broadcastOrNull(int[] a, int[] b) {
        return broadcast(null, a, b, false);
    }

    private static int[] broadcast(String op, int[] a, int[] b, boolean refuse) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
            int db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
            if (da == db || db == 1) {
                out[i] = da;
            } else if (da == 1) {
                out[i] = db;
            } else if (!refuse) {
                return null;
            } else {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " do not broadcast (axis " + i + " of the result: " + da + " vs " + db + ")");
            }
        }
        return out;
    }

    /**
     * Strides of a contiguous {@code shape} when read as broadcast to {@code target} (right-aligned).
     *
     * @param shape the operand's shape; must broadcast to {@code target}
     * @param target the broadcast shape
     * @return one stride per axis of {@code target}, in elements; 0 on axes that are added or of size 1
     */
    public static int[] broadcastStrides(int[] shape, int[] target) {
        int[] own = strides(shape);
        int[] s = new int[target.length];
        int off = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            int j = i - off;
            s[i] = (j >= 0 && shape[j] != 1) ? own[j] : 0;
        }
        return s;
    }

    /**
     * Tests whether an array is a permutation of {@code 0..n-1}.
     *
     * @param perm the candidate
     * @param n the expected length
     * @return true when {@code perm} has length {@code n} and holds every value {@code 0..n-1} once
     */
    public static boolean isPermutation(int[] perm, int n) {
        if (perm.length != n) {
            return false;
        }
        boolean[] seen = new boolean[n];
        for (int p : perm) {
            if (p < 0 || p >= n || seen[p]) {
                return false;
            }
            seen[p] = true;
        }
        return true;
    }

    /**
     * Inverse of a permutation: {@code inv[perm[i]] = i}.
     *
     * @param perm a permutation of {@code 0..n-1} (not checked)
     * @return the inverse permutation
     */
    public static int[] inversePermutation(int[] perm) {
        int[] inv = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inv[perm[i]] = i;
        }
        return inv;
    }

    /**
     * Permutes a shape.
     *
     * @param shape the dimensions
     * @param perm the axis order
     * @return a new array with {@code result[i] = shape[perm[i]]}
     */
    public static int[] permute(int[] shape, int[] perm) {
        int[] r = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            r[i] = shape[perm[i]];
        }
        return r;
    }

    /**
     * from, from + 1, ..., to - 1.
     *
     * @param from the first value
     * @param to one past the last value
     * @return a new array of {@code max(0, to - from)} consecutive values
     */
    public static int[] range(int from, int to) {
        int[] r = new int[Math.max(0, to - from)];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /**
     * The identity permutation.
     *
     * @param n the length
     * @return {@code [0, 1, ..., n-1]}
     */
    public static int[] iota(int n) {
        return range(0, n);
    }

    /**
     * Concatenation of int arrays.
     *
     * @param parts the arrays, in order
     * @return a new array holding all elements of {@code parts}
     */
    public static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] r = new int[n];
        int k = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, r, k, p.length);
            k += p.length;
        }
        return r;
    }

    /**
     * Axes {@code 0..rank-1} not in {@code axes}, in increasing order.
     *
     * @param rank the rank
     * @param axes non-negative axes below {@code rank} (duplicates allowed)
     * @return the remaining axes
     */
    public static int[] complement(int rank, int[] axes) {
        boolean[] in = new boolean[rank];
        int distinct = 0;
        for (int a : axes) {
            distinct += in[a] ? 0 : 1;
            in[a] = true;
        }
        int[] r = new int[rank - distinct];
        int k = 0;
        for (int i = 0; i < rank; i++) {
            if (!in[i]) {
                r[k++] = i;
            }
        }
        return r;
    }

    /**
     * Linear search in an int array.
     *
     * @param a the array
     * @param x the value
     * @return true when {@code a} contains {@code x}
     */
    public static boolean contains(int[] a, int x) {
        for (int v : a) {
            if (v == x) {
                return true;
            }
        }
        return false;
    }
}
