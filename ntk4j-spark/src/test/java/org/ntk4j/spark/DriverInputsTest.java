package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The driver's inputs shared with the tasks of its JVM ({@link DriverInputs}): a task leases the very tensors the
 * driver registered; the driver's close tells the tasks that the job has ended and returns only once every lease
 * is released; after it, and in a JVM that registered nothing, a task finds nothing.
 */
class DriverInputsTest {
    @Test
    void tasksLeaseTheDriversTensorsAndTheDriverWaitsForThem() throws Exception {
        try (Tensor w = Tensor.randomNormal(DType.F32, 1, 3, 2);
             Tensor x1 = Tensor.randomNormal(DType.F32, 2, 4, 2);
             Params params = new Params(Map.of("w", w.copy()), Map.of())) {
            float[] values = x1.toFloatArray();
            String job = "job-" + java.util.UUID.randomUUID();
            assertThat(DriverInputs.registered(job)).isFalse();
            assertThat(DriverInputs.lease(job)).as("nothing registered: another JVM's view").isNull();
            DriverInputs.Registration reg = DriverInputs.register(job, params, x1, null);
            assertThatThrownBy(() -> DriverInputs.register(job, params, x1, null))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("registered already");
            assertThat(DriverInputs.registered(job)).isTrue();
            DriverInputs.Lease a = DriverInputs.lease(job);
            DriverInputs.Lease b = DriverInputs.lease(job);
            assertThat(a.x1()).isSameAs(x1);
            assertThat(a.x2()).isNull();
            assertThat(a.params()).isSameAs(params);
            assertThat(a.ended()).isFalse();
            b.close();
            b.close(); // once
            // the driver's close waits for the lease still held, and tells its task that the job has ended
            CountDownLatch closing = new CountDownLatch(1);
            AtomicBoolean closed = new AtomicBoolean();
            Thread driver = new Thread(() -> {
                closing.countDown();
                reg.close();
                closed.set(true);
            }, "driver-close");
            driver.start();
            assertThat(closing.await(10, TimeUnit.SECONDS)).isTrue();
            long deadline = System.currentTimeMillis() + 10_000;
            while (!a.ended() && System.currentTimeMillis() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(a.ended()).isTrue();
            Thread.sleep(200);
            assertThat(closed.get()).as("the driver returns while a task reads its inputs").isFalse();
            assertThat(DriverInputs.registered(job)).isFalse();
            assertThat(DriverInputs.lease(job)).as("a task after the job ended").isNull();
            a.close();
            driver.join(10_000);
            assertThat(closed.get()).isTrue();
            reg.close(); // once
            // the tensors are the driver's: still open, as they were
            assertThat(x1.toFloatArray()).isEqualTo(values);
            assertThat(params.tensors().get("w").size()).isEqualTo(6);
            // the tag is free again
            DriverInputs.register(job, params, x1, null).close();
        }
    }
}
