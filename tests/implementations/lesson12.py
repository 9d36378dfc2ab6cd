"""Lesson 12: right and wrong answers to split_data, normalize, random_crop, early_stopping and
train_cnn, written the way students write them."""

import numpy as np

import cnnlab as cl

from . import Right, Wrong

nn = cl.nn


# --- split_data: right ------------------------------------------------------------------------

def split_cumulative_cuts(X, y, fractions, rng):
    """Per class: one permutation cut at rounded cumulative fractions (vectorised)."""
    pieces = [[] for _ in fractions]
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(members)).astype(int)
        for part, chunk in zip(pieces, np.split(members, cuts)):
            part.append(chunk)
    parts = []
    for chunks in pieces:
        idx = np.concatenate(chunks)
        parts.append((X[idx], y[idx]))
    return tuple(parts)


def split_floor_counts_lists(X, y, fractions, rng):
    """Per class: floor of each share, the test part takes the rest; lists, not tuples."""
    train, val, test = [], [], []
    for c in sorted(set(y.tolist())):
        members = np.flatnonzero(y == c)
        rng.shuffle(members)
        n_train = int(fractions[0] * len(members))
        n_val = int(fractions[1] * len(members))
        train += list(members[:n_train])
        val += list(members[n_train:n_train + n_val])
        test += list(members[n_train + n_val:])
    return [[X[train], y[train]], [X[val], y[val]], [X[test], y[test]]]


def split_shuffled_parts(X, y, fractions, rng):
    """The library's split (stratified, each part shuffled)."""
    return cl.data.split(X, y, fractions, rng)


# --- split_data: wrong ------------------------------------------------------------------------

def split_test_overlaps_val(X, y, fractions, rng):
    parts = [[], [], []]
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_train = int(fractions[0] * len(members))
        n_val = int(fractions[1] * len(members))
        parts[0].append(members[:n_train])
        parts[1].append(members[n_train:n_train + n_val])
        parts[2].append(members[n_train:])  # should start at n_train + n_val
    return tuple((X[np.concatenate(p)], y[np.concatenate(p)]) for p in parts)


def split_drops_leftovers(X, y, fractions, rng):
    parts = [[], [], []]
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for k, f in enumerate(fractions):
            n = int(f * len(members))
            parts[k].append(members[start:start + n])
            start += n
    return tuple((X[np.concatenate(p)], y[np.concatenate(p)]) for p in parts)


def split_returns_indices(X, y, fractions, rng):
    idx = rng.permutation(len(X))
    return np.split(idx, [int(0.8 * len(X)), int(0.9 * len(X))])


# --- normalize: right -------------------------------------------------------------------------

def normalize_keepdims(X_train, *others):
    mean = X_train.mean(axis=(0, 2, 3), keepdims=True)
    return tuple(X - mean for X in (X_train, *others))


def normalize_channel_loop(X_train, *others):
    results = []
    for X in (X_train, *others):
        out = np.empty_like(X)
        for c in range(X_train.shape[1]):
            out[:, c] = X[:, c] - X_train[:, c].astype(np.float64).mean()
        results.append(out)
    return results


def normalize_library(X_train, *others):
    return cl.data.normalize(X_train, *others)


# --- normalize: wrong -------------------------------------------------------------------------

def normalize_all_data_mean(X_train, *others):
    everything = np.concatenate([X_train, *others])
    mean = everything.mean(axis=(0, 2, 3), keepdims=True)
    return tuple(X - mean for X in (X_train, *others))


def normalize_global_mean(X_train, *others):
    return tuple(X - X_train.mean() for X in (X_train, *others))


def normalize_in_place(X_train, *others):
    mean = X_train.mean(axis=(0, 2, 3), keepdims=True)
    for X in (X_train, *others):
        X -= mean
    return (X_train, *others)


# --- random_crop: right -----------------------------------------------------------------------

def crop_loop(x, size, pad, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C, H, W = padded.shape
    out = np.empty((N, C, size, size), dtype=x.dtype)
    for n in range(N):
        top = rng.integers(0, H - size + 1)
        left = rng.integers(0, W - size + 1)
        out[n] = padded[n, :, top:top + size, left:left + size]
    return out


def crop_gather(x, size, pad, rng):
    N, C, H, W = x.shape
    padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    padded[:, :, pad:pad + H, pad:pad + W] = x
    tops = rng.integers(0, H + 2 * pad - size + 1, size=N)
    lefts = rng.integers(0, W + 2 * pad - size + 1, size=N)
    rows = (tops[:, None] + np.arange(size))[:, None, :, None]
    cols = (lefts[:, None] + np.arange(size))[:, None, None, :]
    return padded[np.arange(N)[:, None, None, None], np.arange(C)[None, :, None, None], rows, cols]


def crop_library(x, size, pad, rng):
    return cl.data.random_crop(x, size, pad, rng)


# --- random_crop: wrong -----------------------------------------------------------------------

def crop_same_for_batch(x, size, pad, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    top = rng.integers(0, padded.shape[2] - size + 1)
    left = rng.integers(0, padded.shape[3] - size + 1)
    return padded[:, :, top:top + size, left:left + size]


def crop_upper_end_excluded(x, size, pad, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((len(x), x.shape[1], size, size), dtype=x.dtype)
    for n in range(len(x)):
        top = rng.integers(0, padded.shape[2] - size)  # misses the last offset
        left = rng.integers(0, padded.shape[3] - size)
        out[n] = padded[n, :, top:top + size, left:left + size]
    return out


def crop_forgot_padding(x, size, pad, rng):
    out = np.empty((len(x), x.shape[1], size, size), dtype=x.dtype)
    for n in range(len(x)):
        top, left = rng.integers(0, x.shape[2] - size + 1), rng.integers(0, x.shape[3] - size + 1)
        out[n] = x[n, :, top:top + size, left:left + size]
    return out


def crop_pads_every_axis(x, size, pad, rng):
    padded = np.pad(x, pad)  # pads N and C too
    top, left = rng.integers(0, padded.shape[2] - size + 1), rng.integers(0, padded.shape[3] - size + 1)
    return padded[:, :, top:top + size, left:left + size]


def crop_channels_apart(x, size, pad, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((len(x), x.shape[1], size, size), dtype=x.dtype)
    for n in range(len(x)):
        for c in range(x.shape[1]):
            top, left = rng.integers(0, padded.shape[2] - size + 1), rng.integers(0, padded.shape[3] - size + 1)
            out[n, c] = padded[n, c, top:top + size, left:left + size]
    return out


# --- early_stopping: right --------------------------------------------------------------------

def stop_wait_counter(val_losses, patience):
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                break
    return best_epoch


def stop_running_minimum(val_losses, patience):
    losses = np.asarray(val_losses, dtype=np.float64)
    # best_index[e]: the first epoch holding the lowest loss of epochs 0..e
    running = np.minimum.accumulate(losses)
    best_index = np.array([int(np.flatnonzero(losses[:e + 1] == running[e])[0]) for e in range(len(losses))])
    waited = np.arange(len(losses)) - best_index
    stop = np.flatnonzero(waited >= patience)
    return int(best_index[stop[0]] if stop.size else best_index[-1])


# --- early_stopping: wrong --------------------------------------------------------------------

def stop_patience_plus_one(val_losses, patience):
    best_epoch, wait = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best_epoch]:
            best_epoch, wait = epoch, 0
        else:
            wait += 1
            if wait > patience:
                break
    return best_epoch


def stop_returns_stop_epoch(val_losses, patience):
    best_epoch = 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best_epoch]:
            best_epoch = epoch
        elif epoch - best_epoch >= patience:
            return epoch
    return len(val_losses) - 1


# --- train_cnn: right -------------------------------------------------------------------------

def build_lesson_network():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.75), nn.Linear(16 * 7 * 7, 10),
    )


class _OneConvNet(nn.Module):
    """A hand-written Module (not a Sequential): one 5x5 convolution, then a linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 12, 5, pad=2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(12 * 14 * 14, 10)

    def forward(self, x):
        return self.fc(self.flat(self.pool(self.relu(self.conv(x)))))

    def backward(self, dout):
        return self.conv.backward(self.relu.backward(self.pool.backward(self.flat.backward(self.fc.backward(dout)))))


def build_custom_module():
    return _OneConvNet()


# --- train_cnn: wrong -------------------------------------------------------------------------

def build_list_of_layers():
    return [nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10)]


def build_linear_in_features_wrong():
    return nn.Sequential(nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 14 * 14, 10))


def build_float64():
    return nn.Sequential(nn.Conv2d(1, 8, 3, pad=1, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 14 * 14, 10, dtype=np.float64))


def build_nine_classes():
    return nn.Sequential(nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 9))


def build_sees_only_brightest_pixel():
    return nn.Sequential(nn.Conv2d(1, 1, 3, pad=1), nn.ReLU(), nn.MaxPool2d(28), nn.Flatten(), nn.Linear(1, 10))


def build_linear_classifier():
    """No convolution: a linear classifier on the pixels (0.870 in fast mode, close to the mark)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def build_forgot_return():
    nn.Sequential(nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))


RIGHT = [
    Right("split_data", split_cumulative_cuts),
    Right("split_data", split_floor_counts_lists),
    Right("split_data", split_shuffled_parts),
    Right("normalize", normalize_keepdims),
    Right("normalize", normalize_channel_loop),
    Right("normalize", normalize_library),
    Right("random_crop", crop_loop),
    Right("random_crop", crop_gather),
    Right("random_crop", crop_library),
    Right("early_stopping", stop_wait_counter),
    Right("early_stopping", stop_running_minimum),
    Right("train_cnn", build_lesson_network),
    Right("train_cnn", build_custom_module),
]

WRONG = [
    Wrong("split_data", split_test_overlaps_val, hint="some samples are in two parts"),
    Wrong("split_data", split_drops_leftovers, hint="some samples are in no part"),
    Wrong("split_data", split_returns_indices, hint="split_data must return 3 pairs"),
    Wrong("normalize", normalize_all_data_mean, hint="must come from X_train only"),
    Wrong("normalize", normalize_global_mean, hint="one mean per channel"),
    Wrong("normalize", normalize_in_place, hint="changed its input `X_train` in place"),
    Wrong("random_crop", crop_same_for_batch, hint="draw an offset for each image"),
    Wrong("random_crop", crop_upper_end_excluded, hint="the upper end of integers is excluded"),
    Wrong("random_crop", crop_forgot_padding, hint="pad first"),
    Wrong("random_crop", crop_pads_every_axis, hint="wrong shape"),
    Wrong("random_crop", crop_channels_apart, hint="cut every channel of an image at the same offset"),
    Wrong("early_stopping", stop_patience_plus_one, hint="not >"),
    Wrong("early_stopping", stop_returns_stop_epoch, hint="not the epoch at which training stopped"),
    Wrong("train_cnn", build_list_of_layers, hint="wrap the layers in cl.nn.Sequential"),
    Wrong("train_cnn", build_linear_in_features_wrong, hint="in_features of the Linear layer"),
    Wrong("train_cnn", build_float64, hint="float32"),
    Wrong("train_cnn", build_nine_classes, hint="expected 10, got 9"),
    Wrong("train_cnn", build_sees_only_brightest_pixel, hint="below the pass mark"),
    Wrong("train_cnn", build_forgot_return, hint="got NoneType"),
    Wrong("train_cnn", build_linear_classifier, hint="needs at least one convolution: start with cl.nn.Conv2d"),
]
