//! Tests of [`FileSink`]: the committed offset, rotation by size and by time, recovery from
//! every crash point of the rotation sequence, the old position format and retention.

use std::sync::Mutex;

use chrono::TimeDelta;

use super::*;

fn doc(id: &str) -> Document {
    Document {
        id: id.to_owned(),
        json: format!(r#"{{"event":{{"id":"{id}"}}}}"#).into_bytes(),
    }
}

fn docs(ids: &[&str]) -> Vec<Document> {
    ids.iter().map(|id| doc(id)).collect()
}

/// The NDJSON lines of `ids`, as the sink writes them.
fn ndjson(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("{{\"event\":{{\"id\":\"{id}\"}}}}\n"))
        .collect()
}

/// One line: 21 bytes.
const LINE: u64 = 21;

fn offset(ack: &Ack) -> u64 {
    ack.position["offset"]
        .as_u64()
        .expect("file sink positions carry an offset")
}

fn segment(ack: &Ack) -> u64 {
    ack.position["segment"]
        .as_u64()
        .expect("rotating file sink positions carry a segment")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn by_size(bytes: u64) -> Rotation {
    Rotation {
        size: Some(bytes),
        ..Rotation::default()
    }
}

fn rotating(path: &Path, rotation: Rotation) -> FileSink {
    FileSink::new(path, ExistingFile::Refuse)
        .unwrap()
        .with_rotation(rotation)
}

/// The numbers of the rotated files of `active`, ascending.
fn rotated_numbers(active: &Path) -> Vec<u64> {
    let mut numbers: Vec<u64> = std::fs::read_dir(active.parent().unwrap())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name();
            (1..1000).find(|&n| rotated_path(active, n).file_name() == Some(name.as_os_str()))
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The stream as a reader sees it: the rotated files in number order, then the active file.
fn stream(active: &Path) -> String {
    let mut text: String = rotated_numbers(active)
        .into_iter()
        .map(|n| read(&rotated_path(active, n)))
        .collect();
    if active.exists() {
        text.push_str(&read(active));
    }
    text
}

/// A clock the test moves by hand.
fn manual_clock(start: DateTime<Utc>) -> (Clock, Arc<Mutex<DateTime<Utc>>>) {
    let now = Arc::new(Mutex::new(start));
    let reader = now.clone();
    let clock = Clock(Arc::new(move || *reader.lock().expect("clock lock")));
    (clock, now)
}

fn advance(now: &Mutex<DateTime<Utc>>, by: TimeDelta) {
    let mut now = now.lock().expect("clock lock");
    *now += by;
}

// ---------------------------------------------------------------------------------------
// Without rotation (the behaviour and the position format from before rotation existed)

#[tokio::test]
async fn writes_ndjson_and_positions_grow_with_committed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    let first = sink.write_batch(&[doc("a"), doc("b")]).await.unwrap();
    let empty = sink.write_batch(&[]).await.unwrap();
    let second = sink.write_batch(&[doc("c")]).await.unwrap();
    assert!(first.rejected.is_empty());
    assert_eq!(offset(&empty), offset(&first));
    assert!(offset(&second) > offset(&first));
    let content = read(&path);
    assert_eq!(offset(&second), content.len() as u64);
    assert_eq!(content, ndjson(&["a", "b", "c"]));
    assert_eq!(
        second.position,
        json!({"path": path.to_string_lossy(), "offset": 3 * LINE}),
        "without rotation the position keeps its original format"
    );
    assert_eq!(sink.name(), format!("file:{}", path.display()));
    assert_eq!(sink.segment(), Some(1));
}

#[tokio::test]
async fn recover_truncates_what_was_written_after_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    let checkpointed = sink.write_batch(&[doc("a")]).await.unwrap().position;
    // Written and durable, but the process "crashed" before the checkpoint.
    sink.write_batch(&[doc("b"), doc("c")]).await.unwrap();
    drop(sink);

    let mut restarted = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    restarted.recover(Some(&checkpointed)).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a"]));
    let ack = restarted.write_batch(&[doc("b")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a", "b"]));
    assert_eq!(offset(&ack), 2 * checkpointed["offset"].as_u64().unwrap());
}

#[tokio::test]
async fn recover_refuses_a_file_shorter_than_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    let position = sink
        .write_batch(&[doc("a"), doc("b")])
        .await
        .unwrap()
        .position;
    drop(sink);
    std::fs::write(&path, b"{}\n").unwrap();

    let mut restarted = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    let err = restarted.recover(Some(&position)).await.unwrap_err();
    assert!(
        matches!(err, SinkError::ShortFile { actual: 3, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    // Nothing was changed and nothing can be written.
    assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
    assert!(matches!(
        restarted.write_batch(&[doc("c")]).await,
        Err(SinkError::NotRecovered { .. })
    ));
}

#[tokio::test]
async fn recover_refuses_a_position_for_another_file_or_a_malformed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    let other = json!({"path": dir.path().join("other.ndjson"), "offset": 0});
    assert!(matches!(
        sink.recover(Some(&other)).await,
        Err(SinkError::PathMismatch { .. })
    ));
    for malformed in [
        json!({"path": path, "offset": -1}),
        json!({"path": path, "offset": 0, "segment": 0}),
        json!({"path": path, "offset": 0, "segment": "2"}),
        json!({"path": path, "offset": 0, "segment": 2, "started_at": "yesterday"}),
    ] {
        assert!(
            matches!(
                sink.recover(Some(&malformed)).await,
                Err(SinkError::InvalidPosition { .. })
            ),
            "{malformed}"
        );
    }
    assert!(!path.exists(), "a refused recovery creates nothing");
}

#[tokio::test]
async fn missing_file_with_a_zero_position_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(Some(&json!({"path": path, "offset": 0})))
        .await
        .unwrap();
    sink.write_batch(&[]).await.unwrap();
    assert!(!path.exists(), "created by the first batch with events");
    sink.write_batch(&[doc("a")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a"]));
}

/// A run that is refused or halts before its first event (a bad token, a wrong domain)
/// leaves no empty output file behind.
#[tokio::test]
async fn the_output_file_is_created_by_the_first_batch_with_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    let start = sink.write_batch(&[]).await.unwrap();
    assert_eq!(offset(&start), 0);
    assert!(!path.exists());
    let ack = sink.write_batch(&[doc("a")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a"]));
    assert_eq!(offset(&ack), LINE);

    // If the file appears meanwhile with data, that data is no one's this sink knows of.
    let other = dir.path().join("other.ndjson");
    let mut sink = FileSink::new(&other, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    std::fs::write(&other, b"{\"x\":1}\n").unwrap();
    let err = sink.write_batch(&[doc("a")]).await.unwrap_err();
    assert!(
        matches!(err, SinkError::UnrecordedData { len: 8, .. }),
        "{err}"
    );
    assert_eq!(read(&other), "{\"x\":1}\n");
}

#[tokio::test]
async fn a_second_writer_of_one_file_is_refused_while_the_first_has_it_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut first = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    first.recover(None).await.unwrap();
    let position = first.write_batch(&[doc("a")]).await.unwrap().position;

    // Through another path to the same file, as another process would.
    let mut second = FileSink::new(dir.path().join("./out.ndjson"), ExistingFile::Refuse).unwrap();
    let err = second.recover(Some(&position)).await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Locked { path: p, .. } if p == &path),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!(
            "{} is being written by another process (pid {}); stop it, or write to another file",
            path.display(),
            std::process::id()
        )
    );
    assert_eq!(read(&path), ndjson(&["a"]), "nothing was changed");

    // Released with the file: a restart after the first is gone recovers.
    drop(first);
    second.recover(Some(&position)).await.unwrap();
    second.write_batch(&[doc("b")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a", "b"]));
}

#[tokio::test]
async fn existing_data_without_a_checkpoint_follows_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let before = b"{\"old\":1}\n";

    std::fs::write(&path, before).unwrap();
    let mut refuse = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    let err = refuse.recover(None).await.unwrap_err();
    assert!(
        matches!(err, SinkError::UnrecordedData { len: 10, .. }),
        "{err}"
    );
    // It recommends what exists: no setting makes `run` append to or truncate a file.
    assert_eq!(
        err.to_string(),
        format!(
            "{} already holds 10 bytes but no checkpoint records them (state directory lost, \
             or a different file given); restore the state directory, or move the file away \
             (or write to another file) to start a new one",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let mut append = FileSink::new(&path, ExistingFile::Append).unwrap();
    append.recover(None).await.unwrap();
    let ack = append.write_batch(&[doc("a")]).await.unwrap();
    assert_eq!(offset(&ack), std::fs::metadata(&path).unwrap().len());
    assert!(read(&path).starts_with("{\"old\":1}\n{\"event\""));
    drop(append);

    let mut fresh = FileSink::new(&path, ExistingFile::Truncate).unwrap();
    fresh.recover(None).await.unwrap();
    fresh.write_batch(&[doc("b")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["b"]));
}

#[tokio::test]
async fn write_before_recover_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path().join("out.ndjson"), ExistingFile::Refuse).unwrap();
    let err = sink.write_batch(&[doc("a")]).await.unwrap_err();
    assert!(matches!(err, SinkError::NotRecovered { .. }));
}

#[tokio::test]
async fn without_rotation_files_that_look_rotated_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let stray = rotated_path(&path, 1);
    std::fs::write(&stray, "not ours\n").unwrap();
    let mut sink = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    sink.recover(None).await.unwrap();
    let position = sink.write_batch(&[doc("a")]).await.unwrap().position;
    drop(sink);
    let mut restarted = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    restarted.recover(Some(&position)).await.unwrap();
    restarted.write_batch(&[doc("b")]).await.unwrap();
    assert_eq!(read(&path), ndjson(&["a", "b"]));
    assert_eq!(read(&stray), "not ours\n");
}

// ---------------------------------------------------------------------------------------
// Rotation by size and by time

#[tokio::test]
async fn size_rotation_starts_a_new_file_at_the_next_batch_and_never_splits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = rotating(&path, by_size(2 * LINE - 2));
    sink.recover(None).await.unwrap();

    let a = sink.write_batch(&docs(&["a"])).await.unwrap();
    assert_eq!((segment(&a), offset(&a)), (1, LINE));
    // Not yet at the threshold: the batch goes to the same file, and crosses it.
    let bc = sink.write_batch(&docs(&["b", "c"])).await.unwrap();
    assert_eq!((segment(&bc), offset(&bc)), (1, 3 * LINE));
    // An empty batch never rotates.
    let empty = sink.write_batch(&[]).await.unwrap();
    assert_eq!(empty.position, bc.position);
    assert!(rotated_numbers(&path).is_empty());

    let d = sink.write_batch(&docs(&["d"])).await.unwrap();
    assert_eq!((segment(&d), offset(&d)), (2, LINE));
    assert_eq!(read(&rotated_path(&path, 1)), ndjson(&["a", "b", "c"]));
    assert_eq!(read(&path), ndjson(&["d"]));

    let efg = sink.write_batch(&docs(&["e", "f", "g"])).await.unwrap();
    assert_eq!((segment(&efg), offset(&efg)), (2, 4 * LINE));
    let h = sink.write_batch(&docs(&["h"])).await.unwrap();
    assert_eq!((segment(&h), offset(&h)), (3, LINE));
    assert_eq!(h.position["path"], path.to_string_lossy().as_ref());

    assert_eq!(rotated_numbers(&path), [1, 2]);
    assert_eq!(read(&rotated_path(&path, 2)), ndjson(&["d", "e", "f", "g"]));
    assert_eq!(
        stream(&path),
        ndjson(&["a", "b", "c", "d", "e", "f", "g", "h"])
    );
    assert_eq!(sink.segment(), Some(3));
    assert_eq!(sink.committed_offset(), LINE);
}

#[tokio::test]
async fn time_rotation_counts_from_the_first_batch_of_the_file_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let hourly = Rotation {
        interval: Some(std::time::Duration::from_secs(3600)),
        ..Rotation::default()
    };
    let t0: DateTime<Utc> = "2024-06-01T12:00:00Z".parse().unwrap();
    let (clock, now) = manual_clock(t0);
    let mut sink = rotating(&path, hourly);
    sink.clock = clock.clone();
    sink.recover(None).await.unwrap();

    // Idle for hours: an empty file does not age.
    advance(&now, TimeDelta::hours(5));
    let a = sink.write_batch(&docs(&["a"])).await.unwrap();
    assert_eq!(segment(&a), 1);
    assert_eq!(a.position["started_at"], "2024-06-01T17:00:00Z");
    advance(&now, TimeDelta::minutes(59));
    let b = sink.write_batch(&docs(&["b"])).await.unwrap();
    assert_eq!(segment(&b), 1);
    assert_eq!(b.position["started_at"], "2024-06-01T17:00:00Z");
    advance(&now, TimeDelta::minutes(1));
    let c = sink.write_batch(&docs(&["c"])).await.unwrap();
    assert_eq!((segment(&c), offset(&c)), (2, LINE));
    assert_eq!(c.position["started_at"], "2024-06-01T18:00:00Z");
    drop(sink);

    // After a restart the file's age still counts from its first batch.
    let mut restarted = rotating(&path, hourly);
    restarted.clock = clock;
    advance(&now, TimeDelta::minutes(30));
    restarted.recover(Some(&c.position)).await.unwrap();
    let d = restarted.write_batch(&docs(&["d"])).await.unwrap();
    assert_eq!(segment(&d), 2);
    advance(&now, TimeDelta::minutes(30));
    let e = restarted.write_batch(&docs(&["e"])).await.unwrap();
    assert_eq!(segment(&e), 3);

    assert_eq!(read(&rotated_path(&path, 1)), ndjson(&["a", "b"]));
    assert_eq!(read(&rotated_path(&path, 2)), ndjson(&["c", "d"]));
    assert_eq!(read(&path), ndjson(&["e"]));
}

#[tokio::test]
async fn size_and_time_rotation_combine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let both = Rotation {
        size: Some(3 * LINE),
        interval: Some(std::time::Duration::from_secs(60)),
        keep: None,
    };
    let (clock, now) = manual_clock("2024-06-01T12:00:00Z".parse().unwrap());
    let mut sink = rotating(&path, both);
    sink.clock = clock;
    sink.recover(None).await.unwrap();
    sink.write_batch(&docs(&["a", "b", "c"])).await.unwrap();
    let by_size = sink.write_batch(&docs(&["d"])).await.unwrap();
    assert_eq!(segment(&by_size), 2);
    advance(&now, TimeDelta::seconds(60));
    let by_time = sink.write_batch(&docs(&["e"])).await.unwrap();
    assert_eq!(segment(&by_time), 3);
    assert_eq!(stream(&path), ndjson(&["a", "b", "c", "d", "e"]));
}

#[tokio::test]
async fn retention_keeps_the_newest_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let keep_two = Rotation {
        keep: Some(2),
        ..by_size(1)
    };
    let mut sink = rotating(&path, keep_two);
    sink.recover(None).await.unwrap();
    for id in ["a", "b", "c", "d", "e", "f"] {
        sink.write_batch(&docs(&[id])).await.unwrap();
    }
    assert_eq!(sink.segment(), Some(6));
    assert_eq!(rotated_numbers(&path), [4, 5]);
    assert_eq!(stream(&path), ndjson(&["d", "e", "f"]));
    // Retention also applies to files left by an earlier run with more kept.
    let mut wider = rotating(
        &path,
        Rotation {
            keep: Some(1),
            ..by_size(1)
        },
    );
    let position = sink.write_batch(&[]).await.unwrap().position;
    drop(sink);
    wider.recover(Some(&position)).await.unwrap();
    wider.write_batch(&docs(&["g"])).await.unwrap();
    assert_eq!(rotated_numbers(&path), [6]);
    assert_eq!(stream(&path), ndjson(&["f", "g"]));
}

#[tokio::test]
async fn a_rotated_name_already_taken_is_refused_and_nothing_moves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let mut sink = rotating(&path, by_size(1));
    sink.recover(None).await.unwrap();
    sink.write_batch(&docs(&["a"])).await.unwrap();
    std::fs::write(rotated_path(&path, 1), "someone else's\n").unwrap();
    let err = sink.write_batch(&docs(&["b"])).await.unwrap_err();
    assert!(matches!(err, SinkError::Segments { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains('\n'));
    assert_eq!(read(&path), ndjson(&["a"]));
    assert_eq!(read(&rotated_path(&path, 1)), "someone else's\n");
}

// ---------------------------------------------------------------------------------------
// Recovery from every crash point of the rotation sequence

/// A rotating sink (a new file at every batch) that committed `a` in segment 1; returns
/// the checkpointed position. The crash tests then perform part of the next rotation on
/// disk by hand.
async fn committed_a(path: &Path) -> Value {
    let mut sink = rotating(path, by_size(1));
    sink.recover(None).await.unwrap();
    let position = sink.write_batch(&docs(&["a"])).await.unwrap().position;
    assert_eq!(position["segment"], 1);
    position
}

/// Recovers from `position` and writes `b`: the result must be `a` then `b`, once each, with
/// `a` in the rotated segment 1 and `b` in the active segment 2.
async fn recover_and_continue(path: &Path, position: &Value) {
    let mut sink = rotating(path, by_size(1));
    sink.recover(Some(position)).await.unwrap();
    assert_eq!(sink.segment(), Some(2), "the rotation is completed");
    assert_eq!(sink.committed_offset(), 0);
    assert_eq!(read(&rotated_path(path, 1)), ndjson(&["a"]));
    assert_eq!(
        read(path),
        "",
        "the new active file holds nothing uncommitted"
    );
    let ack = sink.write_batch(&docs(&["b"])).await.unwrap();
    assert_eq!((segment(&ack), offset(&ack)), (2, LINE));
    assert_eq!(stream(path), ndjson(&["a", "b"]));
    assert_eq!(rotated_numbers(path), [1]);
}

#[tokio::test]
async fn crash_before_the_rename_recovers_the_active_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&position)).await.unwrap();
    assert_eq!((sink.segment(), sink.committed_offset()), (Some(1), LINE));
    sink.write_batch(&docs(&["b"])).await.unwrap();
    assert_eq!(stream(&path), ndjson(&["a", "b"]));
    assert_eq!(rotated_numbers(&path), [1]);
}

#[tokio::test]
async fn crash_after_the_rename_before_the_new_file_completes_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    std::fs::rename(&path, rotated_path(&path, 1)).unwrap();
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn crash_after_creating_the_new_file_completes_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    std::fs::rename(&path, rotated_path(&path, 1)).unwrap();
    std::fs::write(&path, "").unwrap();
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn crash_while_writing_into_the_new_file_takes_the_partial_batch_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    std::fs::rename(&path, rotated_path(&path, 1)).unwrap();
    std::fs::write(&path, "{\"event\":{\"id\":\"b\"}}\n{\"event\":{\"i").unwrap();
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn crash_after_the_acknowledgement_before_the_checkpoint_takes_the_batch_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    // The real sequence, up to the acknowledgement that the checkpoint never recorded.
    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&position)).await.unwrap();
    let unrecorded = sink.write_batch(&docs(&["x", "y"])).await.unwrap();
    assert_eq!(segment(&unrecorded), 2);
    drop(sink);
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn crash_after_the_checkpoint_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&position)).await.unwrap();
    let checkpointed = sink.write_batch(&docs(&["b"])).await.unwrap().position;
    // Half a line of the next batch, then the crash (before that batch's rotation finished).
    std::fs::rename(&path, rotated_path(&path, 2)).unwrap();
    std::fs::write(&path, "{\"event\"").unwrap();
    drop(sink);
    let mut restarted = rotating(&path, by_size(1));
    restarted.recover(Some(&checkpointed)).await.unwrap();
    assert_eq!(restarted.segment(), Some(3));
    restarted.write_batch(&docs(&["c"])).await.unwrap();
    assert_eq!(stream(&path), ndjson(&["a", "b", "c"]));
}

#[tokio::test]
async fn several_unrecorded_rotations_are_all_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&position)).await.unwrap();
    for id in ["x", "y", "z"] {
        sink.write_batch(&docs(&[id])).await.unwrap();
    }
    assert_eq!(rotated_numbers(&path), [1, 2, 3]);
    drop(sink);
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn a_crash_during_recovery_is_recovered_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    std::fs::rename(&path, rotated_path(&path, 1)).unwrap();
    std::fs::write(&path, "{\"event\":{\"id\":\"x\"}}\n").unwrap();
    std::fs::write(rotated_path(&path, 2), ndjson(&["y"])).unwrap();
    // Recovery stopped after its first step: the uncommitted later segment is gone, the
    // active file not yet emptied.
    let mut interrupted = rotating(&path, by_size(1));
    interrupted.recover(Some(&position)).await.unwrap();
    std::fs::write(&path, "{\"event\":{\"id\":\"x\"}}\n").unwrap();
    drop(interrupted);
    recover_and_continue(&path, &position).await;
}

#[tokio::test]
async fn recovery_refuses_states_it_cannot_explain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;

    // The checkpointed segment is gone: neither active nor rotated.
    std::fs::remove_file(&path).unwrap();
    let mut sink = rotating(&path, by_size(1));
    let err = sink.recover(Some(&position)).await.unwrap_err();
    assert!(matches!(err, SinkError::Segments { .. }), "{err}");
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(!path.exists(), "nothing is created");

    // The rotated segment is shorter than its committed bytes.
    std::fs::write(rotated_path(&path, 1), "{}\n").unwrap();
    let err = sink.recover(Some(&position)).await.unwrap_err();
    assert!(
        matches!(err, SinkError::ShortFile { actual: 3, ref path, .. } if path.ends_with("out.000001.ndjson")),
        "{err}"
    );
    assert!(!path.exists(), "nothing is created");

    // The rotated segment holds more than the checkpoint covers: it cannot have been
    // rotated by oktaflow, which rotates a file only once all of it is checkpointed.
    std::fs::write(rotated_path(&path, 1), ndjson(&["a", "b"])).unwrap();
    let err = sink.recover(Some(&position)).await.unwrap_err();
    assert!(matches!(err, SinkError::Segments { .. }), "{err}");
    assert!(err.to_string().contains("holds 42 bytes"), "{err}");
    assert_eq!(read(&rotated_path(&path, 1)), ndjson(&["a", "b"]));
    assert!(!path.exists(), "nothing is created");

    // A later segment was rotated although the checkpointed one never was.
    std::fs::remove_file(rotated_path(&path, 1)).unwrap();
    std::fs::write(&path, ndjson(&["a"])).unwrap();
    std::fs::write(rotated_path(&path, 2), ndjson(&["b"])).unwrap();
    let err = sink.recover(Some(&position)).await.unwrap_err();
    assert!(matches!(err, SinkError::Segments { .. }), "{err}");
    assert!(err.to_string().contains("never rotated"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(read(&path), ndjson(&["a"]), "nothing was changed");
    assert_eq!(read(&rotated_path(&path, 2)), ndjson(&["b"]));
    assert!(matches!(
        sink.write_batch(&docs(&["c"])).await,
        Err(SinkError::NotRecovered { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Compatibility and the first run

#[tokio::test]
async fn an_old_position_is_segment_one_when_rotation_is_turned_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    std::fs::write(&path, ndjson(&["a", "x"])).unwrap();
    let old = json!({"path": path.to_string_lossy(), "offset": LINE});

    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&old)).await.unwrap();
    assert_eq!((sink.segment(), sink.committed_offset()), (Some(1), LINE));
    assert_eq!(read(&path), ndjson(&["a"]));
    let b = sink.write_batch(&docs(&["b"])).await.unwrap();
    assert_eq!((segment(&b), offset(&b)), (2, LINE));
    assert!(b.position["started_at"].is_string());
    drop(sink);
    assert_eq!(stream(&path), ndjson(&["a", "b"]));

    // A crash right after that first rotation, before any checkpoint in the new format.
    let mut again = rotating(&path, by_size(1));
    again.recover(Some(&old)).await.unwrap();
    assert_eq!((again.segment(), again.committed_offset()), (Some(2), 0));
    assert_eq!(stream(&path), ndjson(&["a"]));
}

#[tokio::test]
async fn a_segment_position_keeps_its_numbering_when_rotation_is_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let position = committed_a(&path).await;
    let mut sink = rotating(&path, by_size(1));
    sink.recover(Some(&position)).await.unwrap();
    let b = sink.write_batch(&docs(&["b"])).await.unwrap().position;
    drop(sink);

    let mut plain = FileSink::new(&path, ExistingFile::Refuse).unwrap();
    plain.recover(Some(&b)).await.unwrap();
    let c = plain.write_batch(&docs(&["c"])).await.unwrap();
    assert_eq!((segment(&c), offset(&c)), (2, 2 * LINE));
    assert_eq!(stream(&path), ndjson(&["a", "b", "c"]));
}

#[tokio::test]
async fn rotated_files_without_a_checkpoint_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    std::fs::write(rotated_path(&path, 1), ndjson(&["a"])).unwrap();
    std::fs::write(rotated_path(&path, 2), ndjson(&["b"])).unwrap();

    let mut refuse = rotating(&path, by_size(1));
    let err = refuse.recover(None).await.unwrap_err();
    assert!(
        matches!(err, SinkError::UnrecordedData { ref path, len: LINE } if path.ends_with("out.000001.ndjson")),
        "{err}"
    );
    assert!(!path.exists(), "nothing is created");

    std::fs::write(&path, ndjson(&["c"])).unwrap();
    let mut append = FileSink::new(&path, ExistingFile::Append)
        .unwrap()
        .with_rotation(by_size(1));
    append.recover(None).await.unwrap();
    assert_eq!(
        (append.segment(), append.committed_offset()),
        (Some(3), LINE)
    );
    let d = append.write_batch(&docs(&["d"])).await.unwrap();
    assert_eq!(segment(&d), 4);
    assert_eq!(stream(&path), ndjson(&["a", "b", "c", "d"]));
}
