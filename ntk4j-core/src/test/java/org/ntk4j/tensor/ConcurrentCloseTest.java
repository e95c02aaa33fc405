package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Closing one tensor from two threads at once releases its storage once: the second close is harmless, as a
 * second close on one thread is. (Both used to pass the open check: a NullPointerException from the storage pool,
 * or the same block pooled twice and handed to two live tensors, and {@link Tensor#liveBytes()} counted down twice.)
 */
class ConcurrentCloseTest {
    @Test
    void twoThreadsClosingOneTensorReleaseItOnce() throws Exception {
        int elements = (int) (StoragePool.MIN_BYTES / DType.F64.bytes()); // pooled on close
        long live = Tensor.liveBytes();
        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 300; round++) {
                Tensor t = Tensor.zeros(DType.F64, elements);
                List<Future<?>> closes = new ArrayList<>();
                for (int c = 0; c < 2; c++) {
                    closes.add(pool.submit(() -> {
                        together.await();
                        t.close();
                        return null;
                    }));
                }
                for (Future<?> f : closes) {
                    f.get(); // a failed close is rethrown here
                }
                assertThat(t.isClosed()).isTrue();
                assertThat(Tensor.liveBytes()).as("round %d", round).isEqualTo(live);
                try (Tensor a = Tensor.zeros(DType.F64, elements); Tensor b = Tensor.zeros(DType.F64, elements)) {
                    assertThat(a.pointer().address()).as("round %d: two live tensors on one block", round)
                            .isNotEqualTo(b.pointer().address());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
