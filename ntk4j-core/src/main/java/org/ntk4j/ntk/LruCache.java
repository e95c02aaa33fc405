package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A bounded cache of values built on first request, the least recently used dropped first once it holds more than
 * its capacity: the one eviction rule of the plan caches. A dropped value is handed to the cache's {@code dropped}
 * action (which retires the tensors it owns, {@link org.ntk4j.tensor.CachedTensors#retire}). Thread-safe: a value
 * is built under the cache's lock, so at most once while it stays cached (a build must not ask the same cache for
 * another key).
 *
 * @param <K> the key type
 * @param <V> the value type
 */
final class LruCache<K, V> {
    private final LinkedHashMap<K, V> map;
    private final Consumer<? super V> dropped;

    /** A cache of at most {@code capacity} values, which owns none. */
    LruCache(int capacity) {
        this(capacity, v -> { });
    }

    /** A cache of at most {@code capacity} values; {@code dropped} runs on each value the cache drops. */
    LruCache(int capacity, Consumer<? super V> dropped) {
        this.dropped = dropped;
        this.map = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                if (size() > capacity) {
                    dropped.accept(eldest.getValue());
                    return true;
                }
                return false;
            }
        };
    }

    /** The value of {@code key}, built by {@code build} when not cached. */
    synchronized V get(K key, Function<? super K, ? extends V> build) {
        V v = map.get(key);
        if (v == null) {
            v = build.apply(key);
            map.put(key, v);
        }
        return v;
    }

    /** Drops every value, handing each to the {@code dropped} action. */
    void clear() {
        List<V> all;
        synchronized (this) {
            all = new ArrayList<>(map.values());
            map.clear();
        }
        all.forEach(dropped);
    }

    /** Number of values cached. */
    synchronized int size() {
        return map.size();
    }

    /** The values cached, least recently used first (a copy). */
    synchronized List<V> values() {
        return new ArrayList<>(map.values());
    }
}
