package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@link Shapes}: the small shape helpers everything else builds on. */
class ShapesTest {

    @Test
    void sizesAndStrides() {
        assertThat(Shapes.size(new int[0])).isEqualTo(1);
        assertThat(Shapes.size(new int[] {2, 3, 4})).isEqualTo(24);
        assertThat(Shapes.size(new int[] {2, 0, 4})).isZero();
        assertThat(Shapes.size(new int[] {2, 3, 4}, 1, 3)).isEqualTo(12);
        assertThat(Shapes.strides(new int[] {2, 3, 4})).containsExactly(12, 4, 1);
        assertThat(Shapes.strides(new int[0])).isEmpty();
        assertThatThrownBy(() -> Shapes.size(new int[] {65536, 65536}))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[65536, 65536]");
        assertThatThrownBy(() -> Shapes.size(new int[] {3, -1})).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[3, -1]");
    }

    @Test
    void broadcastStridesAreZeroOnBroadcastAxes() {
        assertThat(Shapes.broadcastStrides(new int[] {3, 1}, new int[] {2, 3, 4})).containsExactly(0, 1, 0);
        assertThat(Shapes.broadcastStrides(new int[] {4}, new int[] {2, 3, 4})).containsExactly(0, 0, 1);
        assertThat(Shapes.broadcastStrides(new int[0], new int[] {2})).containsExactly(0);
        assertThat(Shapes.broadcastStrides(new int[] {2, 3}, new int[] {2, 3})).containsExactly(3, 1);
    }

    @Test
    void permutations() {
        assertThat(Shapes.isPermutation(new int[] {2, 0, 1}, 3)).isTrue();
        assertThat(Shapes.isPermutation(new int[] {0, 0, 1}, 3)).isFalse();
        assertThat(Shapes.isPermutation(new int[] {0, 1}, 3)).isFalse();
        assertThat(Shapes.isPermutation(new int[] {0, 3, 1}, 3)).isFalse();
        assertThat(Shapes.isPermutation(new int[] {-1, 0}, 2)).isFalse();
        assertThat(Shapes.isPermutation(new int[0], 0)).isTrue();
        assertThat(Shapes.inversePermutation(new int[] {2, 0, 1})).containsExactly(1, 2, 0);
        assertThat(Shapes.permute(new int[] {5, 6, 7}, new int[] {2, 0, 1})).containsExactly(7, 5, 6);
    }

    @Test
    void axisListsAndArrays() {
        assertThat(Shapes.axis("op", -1, 3)).isEqualTo(2);
        assertThat(Shapes.axis("op", 0, 3)).isZero();
        assertThatThrownBy(() -> Shapes.axis("op", 3, 3)).hasMessageStartingWith("op: ");
        assertThatThrownBy(() -> Shapes.axis("op", -4, 3)).hasMessageStartingWith("op: ");
        assertThat(Shapes.complement(4, new int[] {2, 0})).containsExactly(1, 3);
        assertThat(Shapes.complement(3, new int[] {1, 1})).containsExactly(0, 2);
        assertThat(Shapes.complement(2, new int[0])).containsExactly(0, 1);
        assertThat(Shapes.concat(new int[] {1}, new int[0], new int[] {2, 3})).containsExactly(1, 2, 3);
        assertThat(Shapes.prepend(5, new int[] {1, 2})).containsExactly(5, 1, 2);
        assertThat(Shapes.dropFirst(new int[] {5, 1, 2})).containsExactly(1, 2);
        assertThat(Shapes.iota(3)).containsExactly(0, 1, 2);
        assertThat(Shapes.contains(new int[] {4, 5}, 5)).isTrue();
        assertThat(Shapes.contains(new int[] {4, 5}, 3)).isFalse();
        assertThat(Shapes.str(new int[] {2, 3})).isEqualTo("[2, 3]");
    }
}
