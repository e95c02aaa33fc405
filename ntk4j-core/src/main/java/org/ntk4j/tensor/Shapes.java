package org.ntk4j.tensor;

import java.util.Arrays;

/** Static helpers on shapes (int arrays, row-major). */
public final class Shapes {
    private Shapes() {
    }

    /** Number of elements; fails with a clear message past 2^31 - 1. */
    public static int size(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + str(shape) + " has a negative dimension");
            }
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + str(shape)
                        + " has more than 2^31-1 elements; tile the computation");
            }
        }
        return (int) n;
    }

    /** Product of the dimensions {@code from <= i < to}. */
    public static int size(int[] shape, int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) {
            n *= shape[i];
        }
        return (int) n;
    }

    /** Row-major strides in elements. */
    public static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /** {@code [2, 3]} style rendering. */
    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    /** Shape with {@code k} prepended. */
    public static int[] prepend(int k, int[] shape) {
        int[] r = new int[shape.length + 1];
        r[0] = k;
        System.arraycopy(shape, 0, r, 1, shape.length);
        return r;
    }

    /** Shape without its first axis. */
    public static int[] dropFirst(int[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length);
    }

    /** Normalises a possibly negative axis and checks its range, naming the operation in the error. */
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
     * @throws IllegalArgumentException naming {@code op} and both shapes when they do not broadcast
     */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
            int db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
            if (da == db || db == 1) {
                out[i] = da;
            } else if (da == 1) {
                out[i] = db;
            } else {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " do not broadcast (axis " + i + " of the result: " + da + " vs " + db + ")");
            }
        }
        return out;
    }

    /** Strides of {@code shape} when read as broadcast to {@code target} (right-aligned; 0 on broadcast axes). */
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

    /** True when {@code perm} is a permutation of 0..n-1. */
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

    /** Inverse of a permutation. */
    public static int[] inversePermutation(int[] perm) {
        int[] inv = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inv[perm[i]] = i;
        }
        return inv;
    }

    /** {@code shape} permuted: result[i] = shape[perm[i]]. */
    public static int[] permute(int[] shape, int[] perm) {
        int[] r = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            r[i] = shape[perm[i]];
        }
        return r;
    }

    /** 0..n-1. */
    public static int[] iota(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    /** Concatenation of int arrays. */
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

    /** Axes 0..rank-1 not in {@code axes}, in increasing order. */
    public static int[] complement(int rank, int[] axes) {
        boolean[] in = new boolean[rank];
        for (int a : axes) {
            in[a] = true;
        }
        int[] r = new int[rank - countDistinct(axes)];
        int k = 0;
        for (int i = 0; i < rank; i++) {
            if (!in[i]) {
                r[k++] = i;
            }
        }
        return r;
    }

    private static int countDistinct(int[] axes) {
        return (int) Arrays.stream(axes).distinct().count();
    }

    /** True when {@code a} contains {@code x}. */
    public static boolean contains(int[] a, int x) {
        for (int v : a) {
            if (v == x) {
                return true;
            }
        }
        return false;
    }
}
