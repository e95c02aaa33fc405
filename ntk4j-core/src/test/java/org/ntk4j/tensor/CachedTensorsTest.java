package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The owner of a cached value's tensors: a build keeps what it allocated (not what an enclosing scope or an inner
 * build owns), and a retirement closes them at once, or, while leases that began before it are open, when the last
 * of those closes (not waiting for leases that began after it).
 */
class CachedTensorsTest {
    @Test
    void aBuildKeepsWhatItAllocatedAndRetiringClosesIt() {
        CachedTensors owner = new CachedTensors();
        CachedTensors inner = new CachedTensors();
        Tensor[] made = new Tensor[3];
        try (TensorScope scope = TensorScope.open()) {
            Tensor value = owner.build(() -> {
                made[0] = Tensor.scalar(DType.F64, 1.5);
                Tensor.scalar(DType.F64, 2).close(); // an intermediate, closed already
                made[1] = inner.build(() -> Tensor.scalar(DType.F32, 3));
                made[2] = TensorScope.unscoped(() -> Tensor.scalar(DType.F64, 4));
                return made[0];
            });
            assertThat(value).isSameAs(made[0]);
            assertThat(scope.openTensors()).isZero(); // nothing went to the enclosing scope
        }
        assertThat(owner.openTensors()).isEqualTo(1);
        assertThat(inner.openTensors()).isEqualTo(1);
        owner.retire();
        assertThat(made[0].isClosed()).isTrue();
        assertThat(made[1].isClosed()).isFalse();
        assertThat(made[2].isClosed()).isFalse();
        owner.retire(); // idempotent
        inner.retire();
        assertThat(made[1].isClosed()).isTrue();
        made[2].close();
    }

    @Test
    void aFailedBuildClosesWhatItAllocated() {
        CachedTensors owner = new CachedTensors();
        Tensor[] made = new Tensor[1];
        assertThatThrownBy(() -> owner.build(() -> {
            made[0] = Tensor.zeros(DType.F64, 2);
            throw new IllegalArgumentException("trace refused");
        })).hasMessage("trace refused");
        assertThat(made[0].isClosed()).isTrue();
        assertThat(owner.openTensors()).isZero();
    }

    @Test
    void aRetirementWaitsForTheLeasesOpenBeforeItOnly() {
        CachedTensors owner = new CachedTensors();
        Tensor t = owner.build(() -> Tensor.scalar(DType.F64, 1));
        int waitingBefore = CachedTensors.waiting();
        CachedTensors.Lease before = CachedTensors.lease();
        owner.retire();
        assertThat(t.isClosed()).as("a call that may hold it is running").isFalse();
        assertThat(CachedTensors.waiting()).isEqualTo(waitingBefore + 1);
        CachedTensors.Lease after = CachedTensors.lease();
        before.close();
        assertThat(t.isClosed()).as("the later lease cannot have taken it").isTrue();
        assertThat(CachedTensors.waiting()).isEqualTo(waitingBefore);
        after.close();
        before.close(); // idempotent
    }
}
