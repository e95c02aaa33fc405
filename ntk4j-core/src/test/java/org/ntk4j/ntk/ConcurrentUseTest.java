package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * EmpiricalNtk used as a service uses it: from several threads at once on shared parameters (each result equal
 * bit for bit to the same call made alone: the same computation on the same machine), against batches of every
 * size (the plan caches stay bounded), from an interrupted thread (the call finishes; the interrupt is kept), and
 * a tiled run interrupted (it stops, and returns only once its workers are done).
 */
class ConcurrentUseTest {
    private static final String SPEC = "fcn(depth=2,width=16,out=3)";
    private static final int[] IN = {5};
    private static final Method[] METHODS = {Method.AUTO, Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    /** The kernel of one call "method:n1:n2:axes" (n2 = 0: x2 = x1; axes 0 trace, 1 full, 2 full diagonal on 0). */
    private static double[] call(EmpiricalNtk base, String task, Map<Integer, Tensor> x1s, Map<Integer, Tensor> x2s) {
        String[] f = task.split(":");
        int n1 = Integer.parseInt(f[1]);
        int n2 = Integer.parseInt(f[2]);
        int axes = Integer.parseInt(f[3]);
        EmpiricalNtk e = base.method(Method.valueOf(f[0]));
        e = axes == 0 ? e : axes == 1 ? e.traceAxes() : e.traceAxes().diagonalAxes(0);
        Tensor x2 = n2 == 0 ? null : x2s.get(axes == 2 ? n1 : n2);
        try (Tensor k = e.ntk(x1s.get(n1), x2)) {
            return k.toDoubleArray();
        }
    }

    @Test
    void concurrentKernelsOnSharedParametersEqualTheSameCallsMadeAlone() throws Exception {
        int threads = 4;
        int calls = 12;
        Model alone = Zoo.parse(SPEC);
        Model shared = Zoo.parse(SPEC); // another instance: its plan caches are filled by the threads at once
        Map<Integer, Tensor> x1s = new HashMap<>();
        Map<Integer, Tensor> x2s = new HashMap<>();
        try (Params p = alone.init(1, IN, DType.F64)) {
            for (int n : new int[] {1, 2, 3, 5}) {
                x1s.put(n, Tensor.randomNormal(DType.F64, 10 + n, n, 5));
                x2s.put(n, Tensor.randomNormal(DType.F64, 20 + n, n, 5));
            }
            List<String> tasks = new ArrayList<>();
            Random r = new Random(3);
            int[] sizes = {1, 2, 3, 5};
            for (int i = 0; i < threads * calls; i++) {
                tasks.add(METHODS[r.nextInt(METHODS.length)] + ":" + sizes[r.nextInt(4)] + ":"
                        + (r.nextBoolean() ? sizes[r.nextInt(4)] : 0) + ":" + r.nextInt(3));
            }
            EmpiricalNtk one = EmpiricalNtk.of(shared, p); // one instance for every thread
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<List<double[]>>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    List<String> mine = tasks.subList(t * calls, (t + 1) * calls);
                    results.add(pool.submit(() -> {
                        List<double[]> out = new ArrayList<>();
                        for (String task : mine) {
                            out.add(call(one, task, x1s, x2s));
                        }
                        return out;
                    }));
                }
                EmpiricalNtk reference = EmpiricalNtk.of(alone, p);
                for (int t = 0; t < threads; t++) {
                    List<double[]> got = results.get(t).get();
                    for (int c = 0; c < calls; c++) {
                        String task = tasks.get(t * calls + c);
                        assertThat(got.get(c)).as(task).containsExactly(call(reference, task, x1s, x2s));
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        } finally {
            x1s.values().forEach(Tensor::close);
            x2s.values().forEach(Tensor::close);
        }
    }

    /**
     * A training set's kernel against test batches of every size: each plan against another side holds that side's
     * plan, so the plans of the training set's side must stay bounded (they grew by one per size, keeping every
     * dropped side plan and its graphs), and every size asked again gives the same bits: a plan found by the other
     * side's size while that side plan had been dropped and traced anew failed with a NullPointerException.
     */
    @Test
    void aKernelAgainstBatchesOfEverySizeHoldsBoundedPlans() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        int sizes = 40;
        try (Params p = m.init(1, IN, DType.F64); Tensor train = Tensor.randomNormal(DType.F64, 1, 3, 5)) {
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.STRUCTURED_DERIVATIVES,
                Method.NTK_VECTOR_PRODUCTS}) {
                EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                List<double[]> first = new ArrayList<>();
                for (int n = 1; n <= sizes; n++) {
                    try (Tensor x = Tensor.randomNormal(DType.F64, 100 + n, n, 5); Tensor k = e.ntk(train, x)) {
                        first.add(k.toDoubleArray());
                    }
                }
                // again: sizes whose side plans were dropped, with and without their plans against the training set
                for (int n = 1; n <= sizes; n++) {
                    try (Tensor x = Tensor.randomNormal(DType.F64, 100 + n, n, 5); Tensor k = e.ntk(train, x)) {
                        assertThat(k.toDoubleArray()).as("%s, n2 = %d again", method, n)
                                .containsExactly(first.get(n - 1));
                    }
                }
            }
            assertThat(SidePlan.of(m, 3, IN, DType.F64).plansHeld()).isLessThan(3 * sizes);
            assertThat(SidePlan.of(m, 3, IN, DType.F64).plansHeld()).isLessThanOrEqualTo(3 * 32);
        }
    }

    /**
     * An interrupted thread's kernel call is not cut short: it finishes with the bits of an uninterrupted call and
     * leaves the interrupt status set for the caller to act on (no worker keeps writing into freed storage).
     */
    @Test
    void anInterruptedCallFinishesAndKeepsTheInterrupt() {
        Model m = Zoo.parse("fcn(depth=2,width=256,out=4)");
        try (Params p = m.init(1, new int[] {32}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 2, 48, 32)) {
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                double[] plain;
                try (Tensor k = e.ntk(x, null)) {
                    plain = k.toDoubleArray();
                }
                Thread.currentThread().interrupt();
                try (Tensor k = e.ntk(x, null)) {
                    assertThat(Thread.interrupted()).as("%s: interrupt kept", method).isTrue();
                    assertThat(k.toDoubleArray()).as(method.toString()).containsExactly(plain);
                } finally {
                    Thread.interrupted();
                }
            }
        }
    }

    /**
     * An interrupted tiled run stops with one clear exception, but only once every worker has left its tile: the
     * caller may close the inputs and the sink as soon as it returns (it returned at once, while a worker was still
     * inside the sink). The library's threads remain usable afterwards.
     */
    @Test
    void anInterruptedTiledRunReturnsOnlyOnceItsWorkersAreDone() throws Exception {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        try (Params p = m.init(1, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 4, 32, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.parse("trace", 7)).tile(16).workers(2)
                    .plan(32, 0, IN, DType.F64);
            CountDownLatch inSink = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean runReturned = new AtomicBoolean();
            AtomicBoolean returnedWhileInSink = new AtomicBoolean();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicBoolean interruptKept = new AtomicBoolean();
            Thread caller = new Thread(() -> {
                try {
                    new TiledKernel(ntk, plan, x, null).run(Set.of(), (tile, k) -> {
                        inSink.countDown();
                        boolean waited = false;
                        while (!waited) {
                            try {
                                release.await();
                                waited = true;
                            } catch (InterruptedException e) {
                                // a worker may be interrupted; it still finishes its tile
                            }
                        }
                        returnedWhileInSink.compareAndSet(false, runReturned.get());
                    }, null);
                } catch (Throwable e) {
                    thrown.set(e);
                }
                interruptKept.set(Thread.currentThread().isInterrupted());
                runReturned.set(true);
            });
            caller.start();
            inSink.await();
            caller.interrupt();
            caller.join(300); // time for a run that does not wait for its workers to return (not an assertion)
            release.countDown();
            caller.join();
            assertThat(returnedWhileInSink).as("the run returned while a worker was inside the sink").isFalse();
            assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("interrupted");
            assertThat(interruptKept).isTrue();
            try (Tensor tiled = new TiledKernel(ntk, plan, x, null).computeAll(); Tensor whole = ntk.ntk(x, null)) {
                assertThat(EmpiricalNtkTest.relativeError(tiled, whole)).isLessThan(1e-12);
            }
        }
    }

    /** A closed input, parameter or prepared tile is refused in one line naming it, for every method. */
    @Test
    void closedInputsParametersAndTilesAreNamed() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        try (Params p = m.init(1, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, 4, 5)) {
            Tensor closed = Tensor.randomNormal(DType.F64, 2, 4, 5);
            closed.close();
            Params gone = m.init(2, IN, DType.F64);
            gone.close();
            for (Method method : METHODS) {
                EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                assertThatThrownBy(() -> e.ntk(closed, null)).isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("x1: the tensor [4, 5] was closed");
                assertThatThrownBy(() -> e.ntk(x, closed)).isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("x2: the tensor [4, 5] was closed");
                assertThatThrownBy(() -> EmpiricalNtk.of(m, gone).method(method).ntk(x, null))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("parameters: '1_dense/w' was closed");
            }
            assertThatThrownBy(() -> m.apply(gone, x)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("parameters: '1_dense/w' was closed");
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk tiles = EmpiricalNtk.of(m, p).method(method)
                        .forTiles(KernelKind.parse("trace", 7), 4, 0, IN, DType.F64);
                PreparedTile open = tiles.prepare(x);
                PreparedTile t = tiles.prepare(x);
                t.close();
                t.close();
                assertThatThrownBy(() -> tiles.kernel(t, t)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("kernel: the prepared tile of the rows was closed");
                assertThatThrownBy(() -> tiles.kernel(open, t)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("kernel: the prepared tile of the columns was closed");
                open.close();
            }
        }
    }
}
