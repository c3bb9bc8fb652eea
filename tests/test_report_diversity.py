from textmill.report.diversity import GROWTH_POINTS, diversity


def test_vocabulary_growth_counts_distinct_words_after_every_step_and_after_the_last():
    # 45 words, step 45 // 20 = 2: points 2, 4, ..., 44 and the last word, 45
    words = [f"w{i % 7}" for i in range(45)]
    got = diversity([" ".join(words[:20]), " ".join(words[20:]).upper()])
    expected = [[end, len(set(words[:end]))] for end in [*range(2, 45, 2), 45]]
    assert got["vocabulary_growth"] == expected
    assert got["distinct_1"] == round(7 / 45, 4)
    assert got["distinct_2"] == round(7 / 44, 4)  # w0 w1 ... w6 w0: 7 distinct bigrams


def test_growth_has_one_point_per_step_when_the_words_divide_evenly():
    got = diversity([" ".join(f"w{i}" for i in range(10 * GROWTH_POINTS))])
    assert [end for end, _ in got["vocabulary_growth"]] == list(range(10, 201, 10))
    assert got["vocabulary_growth"][-1] == [200, 200]
