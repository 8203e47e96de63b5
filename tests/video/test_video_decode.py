import numpy as np
import pytest
from PIL import Image
from video_media import numbered_frame, read_number

from hieroaction.datasets.sample import VideoRef
from hieroaction.video.decode import list_frame_files, read_frames
from hieroaction.video.resize import resize_frames, resize_image


def numbers(frames):
    return [read_number(f) for f in frames]


def test_reads_the_asked_frames_in_the_asked_order(media):
    wanted = [0, 5, 6, 59, 30, 30, 1]
    frames = read_frames(media / "short.mp4", wanted)
    assert frames.shape == (7, 64, 136, 3) and frames.dtype == np.uint8
    assert numbers(frames) == wanted


def test_sparse_seeking_gives_the_same_pixels_as_decoding_everything(media):
    wanted = [3, 400, 401, 777, 1100, 1499]
    seeking = read_frames(media / "long.mp4", wanted)
    assert numbers(seeking) == wanted
    every = read_frames(media / "long.mp4", np.arange(1500))
    assert numbers(every[::97]) == list(range(0, 1500, 97))
    assert np.array_equal(seeking, every[wanted])
    # no seeking at all (gap larger than the video) must agree too
    assert np.array_equal(read_frames(media / "long.mp4", wanted, seek_gap=10**6), seeking)


def test_video_ref_indices_are_clip_relative(media):
    ref = VideoRef("video", "long.mp4", 1000, 1099)
    frames = read_frames(ref, [0, 50, 99], media_root=media)
    assert numbers(frames) == [1000, 1050, 1099]


def test_negative_indices_clamp_at_the_first_frame(media):
    ref = VideoRef("video", "short.mp4", 10, 29)
    assert numbers(read_frames(ref, [-15, -3, 0], media_root=media)) == [0, 7, 10]


def test_resize_keeps_height_and_width_the_right_way_round(media):
    frames = read_frames(media / "short.mp4", [2, 40], size=(30, 80))
    assert frames.shape == (2, 30, 80, 3)
    bottom = frames[0, 20:]
    assert bottom[:, :30].mean(axis=(0, 1))[0] > 200  # red stays on the left
    assert bottom[:, 50:].mean(axis=(0, 1))[1] > 200  # green on the right
    assert numbers(frames) == [2, 40]


def test_other_codecs_and_containers(media):
    assert numbers(read_frames(media / "mpeg4.mkv", [0, 17, 39])) == [0, 17, 39]


def test_frame_folder_sorts_numerically_across_digit_counts(media):
    folder = media / "fd" / "vid" / "7"
    files = list_frame_files(folder)
    assert [p.name for p in files[9:12]] == ["99999.jpg", "100000.jpg", "100001.jpg"]
    ref = VideoRef("frames", "fd/vid/7", 99_990, 100_009)
    frames = read_frames(ref, [0, 9, 10, 19], media_root=media)
    assert numbers(frames) == [99_990, 99_999, 100_000, 100_009]
    small = read_frames(ref, [10], media_root=media, size=(32, 68))
    assert small.shape == (1, 32, 68, 3) and numbers(small) == [100_000]


def test_resize_helpers():
    stack = np.stack([numbered_frame(5), numbered_frame(9)])
    out = resize_frames(stack, (20, 60))
    assert out.shape == (2, 20, 60, 3) and numbers(out) == [5, 9]
    assert resize_frames(stack, None) is stack
    image = resize_image(Image.fromarray(numbered_frame(3, 200, 300)), 50)
    assert image.size == (50, 50)
    with pytest.raises(ValueError):
        resize_frames(stack[0], (2, 2))
