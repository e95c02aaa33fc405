package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BinaryOperator;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.tensor.Shapes;

/**
 * Operators on values held as views ({@link Traced}: {@code logical = reshape(transpose(phys, perm), shape)}),
 * which move no data for a transpose or a reshape and compute contractions, reductions and elementwise operations
 * on {@code phys} directly. PyTorch's attention on batch-first inputs transposes [N, L, E] to [L, N, E] and
 * reshapes it to [L, N·heads, d]; held as views, every such value keeps the example axis N first in memory. Each
 * method returns null where its case does not apply; the operator then works on the file's layout.
 */
final class Views {
    private Views() {
    }

    private static int[] permOrNull(int[] p) {
        return Arrays.equals(p, Shapes.iota(p.length)) ? null : p;
    }

    private static int[] groupsOrNull(int[] g) {
        for (int x : g) {
            if (x != 1) {
                return g;
            }
        }
        return null;
    }

    private static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Logical axes permuted by {@code p}: only the description changes. */
    static Traced transpose(Traced x, int[] p) {
        List<Integer> tAxes = new ArrayList<>();
        int[] groups = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            int st = x.groupStart(p[i]);
            for (int k = 0; k < x.groupSize(p[i]); k++) {
                tAxes.add(st + k);
            }
            groups[i] = x.groupSize(p[i]);
        }
        int[] perm = new int[tAxes.size()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = x.physAxis(tAxes.get(i));
        }
        int tb = x.tBatch >= 0 ? tAxes.indexOf(x.tBatch) : x.tBatch;
        return new Traced(x.phys, permOrNull(perm), groupsOrNull(groups), tb);
    }

    /**
     * Index {@code i} of logical axis {@code a}, a single axis of T other than the examples' ({@code qkv[0]} of
     * Swin's {@code qkv.permute(2, 0, 3, 1, 4)}): a slice of that phys axis, which moves the rest of the value
     * nowhere; the axis is dropped ({@code drop}, a scalar index) or kept with size 1. Null where the axis spans
     * several axes of T or is the examples'.
     */
    static Traced select(Traced x, int a, int i, boolean drop) {
        int t = x.groupStart(a);
        if (x.groupSize(a) != 1 || t == x.tBatch) {
            return null;
        }
        int pa = x.physAxis(t);
        int[] ps = x.phys.shape();
        Var y = x.phys.sliceInDim(pa, i, i + 1, 1);
        if (!drop) {
            return new Traced(y, x.perm, x.groups, x.tBatch);
        }
        int[] shape = new int[ps.length - 1];
        for (int k = 0, j = 0; k < ps.length; k++) {
            if (k != pa) {
                shape[j++] = ps[k];
            }
        }
        int[] tAxes = x.perm == null ? Shapes.iota(ps.length) : x.perm;
        int[] perm = new int[ps.length - 1];
        for (int k = 0, j = 0; k < tAxes.length; k++) {
            if (k != t) {
                perm[j++] = tAxes[k] > pa ? tAxes[k] - 1 : tAxes[k];
            }
        }
        int[] groups = null;
        if (x.groups != null) {
            groups = new int[x.groups.length - 1];
            for (int k = 0, j = 0; k < x.groups.length; k++) {
                if (k != a) {
                    groups[j++] = x.groups[k];
                }
            }
        }
        int tb = x.tBatch >= 0 && x.tBatch > t ? x.tBatch - 1 : x.tBatch;
        return new Traced(y.reshape(shape), permOrNull(perm), groups == null ? null : groupsOrNull(groups), tb);
    }

    /**
     * Reshaped to {@code target}: T's axes are split where the target's boundaries fall inside them (a reshape of
     * phys that moves nothing), and the target's axes become groups of them. Null when the boundaries do not
     * divide T's axes.
     */
    static Traced reshape(Traced x, int[] target) {
        int[] ts = x.tShape();
        // pieces: {T axis, size, target axis}, in T order; T axes of size 1 (other than the example's) are dropped
        List<int[]> pieces = new ArrayList<>();
        int k = nextAxis(ts, 0, x.tBatch);
        int j = nextAxis(target, 0, -1);
        long remT = k < ts.length ? ts[k] : 1;
        long remS = j < target.length ? target[j] : 1;
        while (k < ts.length && j < target.length) {
            if (remT == remS) {
                pieces.add(new int[] {k, (int) remT, j});
                k = nextAxis(ts, k + 1, x.tBatch);
                j = nextAxis(target, j + 1, -1);
                remT = k < ts.length ? ts[k] : 1;
                remS = j < target.length ? target[j] : 1;
            } else if (remT > remS) {
                if (remT % remS != 0) {
                    return null;
                }
                pieces.add(new int[] {k, (int) remS, j});
                remT /= remS;
                j = nextAxis(target, j + 1, -1);
                remS = j < target.length ? target[j] : 1;
            } else {
                if (remS % remT != 0) {
                    return null;
                }
                pieces.add(new int[] {k, (int) remT, j});
                remS /= remT;
                k = nextAxis(ts, k + 1, x.tBatch);
                remT = k < ts.length ? ts[k] : 1;
            }
        }
        if (k < ts.length || j < target.length) {
            return null;
        }
        // the new phys: each phys axis replaced by its pieces, in phys order
        int pr = x.phys.rank();
        int[] tOfPhys = new int[pr];
        for (int t = 0; t < ts.length; t++) {
            tOfPhys[x.physAxis(t)] = t;
        }
        List<Integer> physSizes = new ArrayList<>();
        int[] physIndex = new int[pieces.size()];
        for (int q = 0; q < pr; q++) {
            for (int i = 0; i < pieces.size(); i++) {
                if (pieces.get(i)[0] == tOfPhys[q]) {
                    physIndex[i] = physSizes.size();
                    physSizes.add(pieces.get(i)[1]);
                }
            }
        }
        int[] groups = new int[target.length];
        int tb = x.tBatch < 0 ? x.tBatch : MIXED;
        int ofBatch = 0;
        for (int i = 0; i < pieces.size(); i++) {
            groups[pieces.get(i)[2]]++;
            if (pieces.get(i)[0] == x.tBatch) {
                tb = i;
                ofBatch++;
            }
        }
        if (ofBatch > 1) {
            tb = MIXED;
        }
        Var np = x.phys.reshape(ints(physSizes));
        return new Traced(np, permOrNull(physIndex), groupsOrNull(groups), tb);
    }

    /** The next axis from {@code from} of size other than 1 (the axis {@code keep} counts whatever its size). */
    private static int nextAxis(int[] s, int from, int keep) {
        int i = from;
        while (i < s.length && s[i] == 1 && i != keep) {
            i++;
        }
        return i;
    }

    /**
     * An x-independent value (a bias, a scale) in the layout of the view {@code v}, or null when it does not
     * broadcast group by group.
     */
    private static Var inLayout(Traced t, Traced v) {
        if (!t.isView() && !v.isView() || sameLayout(t, v)) {
            return t.phys;
        }
        if (t.tBatch != NONE) {
            return dependentInLayout(t, v);
        }
        int[] s = t.shape();
        int r = v.rank();
        if (s.length > r) {
            return null;
        }
        int[] full = new int[r];
        Arrays.fill(full, 1);
        System.arraycopy(s, 0, full, r - s.length, s.length);
        int[] vs = v.shape();
        int[] ts = v.tShape();
        int[] tConst = new int[ts.length];
        for (int g = 0; g < r; g++) {
            int st = v.groupStart(g);
            for (int i = 0; i < v.groupSize(g); i++) {
                if (full[g] == 1) {
                    tConst[st + i] = 1;
                } else if (full[g] == vs[g]) {
                    tConst[st + i] = ts[st + i];
                } else {
                    return null;
                }
            }
        }
        Var c = t.var().reshape(tConst);
        return v.perm == null ? c : c.transpose(Shapes.inversePermutation(v.perm));
    }

    /**
     * A value computed from x, of v's rank, in the layout of the view v (the result's shape), or null: each logical
     * axis either of size 1 (broadcast) or held as the same T axes as v's. Both must hold the example axis first
     * in phys and as T axis 0, so that the transpose and reshape here keep it first. PyTorch's attention masks,
     * reshaped to [N·heads, 1, L] like the scores [N·heads, L, L] they are added to, are such values.
     */
    private static Var dependentInLayout(Traced t, Traced v) {
        int r = v.rank();
        if (t.rank() != r || t.tBatch != 0 || t.physAxis(0) != 0 || v.tBatch != 0 || v.physAxis(0) != 0) {
            return null;
        }
        int[] s = t.shape();
        int[] vs = v.shape();
        int[] tts = t.tShape();
        int[] vts = v.tShape();
        List<Integer> target = new ArrayList<>();
        for (int g = 0; g < r; g++) {
            if (s[g] == 1) {
                for (int i = 0; i < v.groupSize(g); i++) {
                    target.add(1);
                }
                continue;
            }
            if (s[g] != vs[g] || t.groupSize(g) != v.groupSize(g)) {
                return null;
            }
            for (int i = 0; i < v.groupSize(g); i++) {
                if (tts[t.groupStart(g) + i] != vts[v.groupStart(g) + i]) {
                    return null;
                }
                target.add(vts[v.groupStart(g) + i]);
            }
        }
        Var inT = t.perm == null ? t.phys : t.phys.transpose(t.perm);
        Var c = inT.reshape(ints(target));
        return v.perm == null ? c : c.transpose(Shapes.inversePermutation(v.perm));
    }

    private static boolean sameLayout(Traced a, Traced b) {
        return Arrays.equals(a.perm, b.perm) && Arrays.equals(a.groups, b.groups)
                && Arrays.equals(a.phys.shape(), b.phys.shape());
    }

    /** An elementwise operation where at least one operand is a view whose shape is the result's. */
    static Traced binary(Traced a, Traced b, BinaryOperator<Var> f) {
        Traced v = a.isView() && Arrays.equals(a.shape(), broadcast(a, b)) ? a
                : b.isView() && Arrays.equals(b.shape(), broadcast(a, b)) ? b : null;
        if (v == null) {
            return null;
        }
        Var pa = inLayout(a, v);
        Var pb = inLayout(b, v);
        if (pa == null || pb == null) {
            return null;
        }
        int tb = combine(a.tBatch, b.tBatch);
        return v.withPhys(f.apply(pa, pb), tb);
    }

    private static int[] broadcast(Traced a, Traced b) {
        return Shapes.broadcast("elementwise", a.shape(), b.shape());
    }

    private static int combine(int a, int b) {
        if (a == MIXED || b == MIXED) {
            return MIXED;
        }
        if (a >= 0 && b >= 0 && a != b) {
            return MIXED;
        }
        return a >= 0 ? a : b;
    }

    /** The axes of phys under the T axes {@code from .. from+count-1}, in T order. */
    private static int[] physAxes(Traced x, int from, int count) {
        int[] r = new int[count];
        for (int i = 0; i < count; i++) {
            r[i] = x.physAxis(from + i);
        }
        return r;
    }

    /**
     * {@code a [..., M, K] × b [K, N]} for a view a and an x-independent matrix b (a weight): the contraction runs
     * over a's phys axes of K, with b split to match.
     */
    static Traced matmulWeight(Traced a, Var b) {
        int r = a.rank();
        if (r < 2 || b.rank() != 2) {
            return null;
        }
        int gk = r - 1;
        int st = a.groupStart(gk);
        int cnt = a.groupSize(gk);
        if (cnt == 0) {
            return null;
        }
        int[] ts = a.tShape();
        int[] split = Shapes.concat(Arrays.copyOfRange(ts, st, st + cnt), new int[] {b.dim(1)});
        Var bs = b.reshape(split);
        Var y = a.phys.dotGeneral(bs, physAxes(a, st, cnt), Shapes.iota(cnt), new int[0], new int[0]);
        // output phys: a's free phys axes in phys order, then N
        int[] tAxes = new int[ts.length - cnt];
        for (int t = 0, i = 0; t < ts.length; t++) {
            if (t < st || t >= st + cnt) {
                tAxes[i++] = t;
            }
        }
        int[] perm = new int[tAxes.length + 1];
        for (int i = 0; i < tAxes.length; i++) {
            perm[i] = rankAmong(a.physAxis(tAxes[i]), physAxesOf(a, tAxes));
        }
        perm[tAxes.length] = tAxes.length;
        int[] groups = new int[r];
        for (int g = 0; g < r - 1; g++) {
            groups[g] = a.groupSize(g);
        }
        groups[r - 1] = 1;
        int tb = a.tBatch < 0 ? a.tBatch : a.tBatch >= st && a.tBatch < st + cnt ? MIXED : indexOf(tAxes, a.tBatch);
        return new Traced(y, permOrNull(perm), groupsOrNull(groups), tb);
    }

    /**
     * {@code a [B..., M, K] × b [B..., K, N]} for two values of equal rank at least 3 whose batch axes and K
     * split alike into axes of T: one dot_general with the batch and contracted axes paired piece by piece.
     */
    static Traced matmulPaired(Traced a, Traced b) {
        int r = a.rank();
        if (r < 3 || b.rank() != r) {
            return null;
        }
        int[] ta = a.tShape();
        int[] tb = b.tShape();
        List<int[]> batchPairs = new ArrayList<>();
        for (int g = 0; g < r - 2; g++) {
            if (!samePieces(a, ta, g, b, tb, g)) {
                return null;
            }
            for (int i = 0; i < a.groupSize(g); i++) {
                batchPairs.add(new int[] {a.groupStart(g) + i, b.groupStart(g) + i});
            }
        }
        if (!samePieces(a, ta, r - 1, b, tb, r - 2) || a.groupSize(r - 1) == 0) {
            return null;
        }
        // batch pieces in a's phys order, so that an example axis first in a stays first
        batchPairs.sort((p, q) -> Integer.compare(a.physAxis(p[0]), a.physAxis(q[0])));
        int nb = batchPairs.size();
        int[] lb = new int[nb];
        int[] rb = new int[nb];
        for (int i = 0; i < nb; i++) {
            lb[i] = a.physAxis(batchPairs.get(i)[0]);
            rb[i] = b.physAxis(batchPairs.get(i)[1]);
        }
        int[] lc = physAxes(a, a.groupStart(r - 1), a.groupSize(r - 1));
        int[] rc = physAxes(b, b.groupStart(r - 2), b.groupSize(r - 2));
        Var y = a.phys.dotGeneral(b.phys, lc, rc, lb, rb);
        // T' = a's batch T axes (T order), a's M group, b's N group
        int mStart = a.groupStart(r - 2);
        int mCount = a.groupSize(r - 2);
        int nStart = b.groupStart(r - 1);
        int nCount = b.groupSize(r - 1);
        int[] aFree = physAxes(a, mStart, mCount);
        int[] bFree = physAxes(b, nStart, nCount);
        int[] aFreeSorted = aFree.clone();
        Arrays.sort(aFreeSorted);
        int[] bFreeSorted = bFree.clone();
        Arrays.sort(bFreeSorted);
        int batchT = a.groupStart(r - 2);
        int[] perm = new int[batchT + mCount + nCount];
        for (int t = 0; t < batchT; t++) {
            for (int i = 0; i < nb; i++) {
                if (batchPairs.get(i)[0] == t) {
                    perm[t] = i;
                }
            }
        }
        for (int i = 0; i < mCount; i++) {
            perm[batchT + i] = nb + Arrays.binarySearch(aFreeSorted, aFree[i]);
        }
        for (int i = 0; i < nCount; i++) {
            perm[batchT + mCount + i] = nb + mCount + Arrays.binarySearch(bFreeSorted, bFree[i]);
        }
        int[] groups = new int[r];
        for (int g = 0; g < r - 2; g++) {
            groups[g] = a.groupSize(g);
        }
        groups[r - 2] = mCount;
        groups[r - 1] = nCount;
        int ba = a.tBatch < 0 ? a.tBatch : a.tBatch < batchT + mCount ? a.tBatch : MIXED;
        int bb;
        if (b.tBatch < 0) {
            bb = b.tBatch;
        } else if (b.tBatch < b.groupStart(r - 2)) {
            bb = b.tBatch;
        } else if (b.tBatch >= nStart && b.tBatch < nStart + nCount) {
            bb = batchT + mCount + (b.tBatch - nStart);
        } else {
            bb = MIXED;
        }
        return new Traced(y, permOrNull(perm), groupsOrNull(groups), combine(ba, bb));
    }

    private static boolean samePieces(Traced a, int[] ta, int ga, Traced b, int[] tb, int gb) {
        if (a.groupSize(ga) != b.groupSize(gb)) {
            return false;
        }
        for (int i = 0; i < a.groupSize(ga); i++) {
            if (ta[a.groupStart(ga) + i] != tb[b.groupStart(gb) + i]) {
                return false;
            }
        }
        return true;
    }

    private static int[] physAxesOf(Traced a, int[] tAxes) {
        int[] r = new int[tAxes.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.physAxis(tAxes[i]);
        }
        return r;
    }

    private static int rankAmong(int v, int[] values) {
        int r = 0;
        for (int x : values) {
            if (x < v) {
                r++;
            }
        }
        return r;
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return MIXED;
    }

    /** The phys axes under logical axes {@code axes}, or null when one of them is not a single axis of T. */
    static int[] singlePhysAxes(Traced x, int[] axes) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            if (x.groupSize(axes[i]) != 1) {
                return null;
            }
            r[i] = x.physAxis(x.groupStart(axes[i]));
        }
        return r;
    }

    /** The phys axes under logical axes {@code axes} (each may span several axes of T), sorted. */
    static int[] physAxesUnder(Traced x, int[] axes) {
        List<Integer> r = new ArrayList<>();
        for (int g : axes) {
            for (int i = 0; i < x.groupSize(g); i++) {
                r.add(x.physAxis(x.groupStart(g) + i));
            }
        }
        int[] a = ints(r);
        Arrays.sort(a);
        return a;
    }

    /** Whether the example axis lies under one of the logical {@code axes}. */
    static boolean batchUnder(Traced x, int[] axes) {
        if (x.tBatch < 0) {
            return x.tBatch == MIXED;
        }
        for (int g : axes) {
            if (x.tBatch >= x.groupStart(g) && x.tBatch < x.groupStart(g) + x.groupSize(g)) {
                return true;
            }
        }
        return false;
    }
}
