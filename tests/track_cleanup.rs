//! A participant who leaves takes its webrtcbin and track bins with it: the
//! session's element and pad counts return to where they were, and the
//! process does not gain threads with every join and leave.

use std::time::{Duration, Instant};

use callcast::config::{IceConfig, IngestConfig};
use callcast::media::stats::PipelineCounts;
use callcast::session::{RoomInfo, Session, SessionConfig};
use callcast::synth::{SynthSpec, SyntheticParticipant};
use callcast_signalling::callcast::CallcastAdapter;
use callcast_signalling::room::RoomServer;

const ROOM: &str = "cleanup";

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_cycles_leave_nothing_behind() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,callcast::media::ingest=debug")
        .with_test_writer()
        .try_init();
    callcast::media::init().unwrap();
    let room = RoomServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let session = Session::start(
        "cleanup".into(),
        RoomInfo {
            adapter: "callcast".into(),
            url: room.url(),
            room: ROOM.into(),
        },
        Box::new(CallcastAdapter {
            url: room.url(),
            room: ROOM.into(),
            display: "recorder".into(),
        }),
        SessionConfig {
            ingest: IngestConfig {
                ice: IceConfig::loopback(),
                ..IngestConfig::default()
            },
            ..SessionConfig::default()
        },
    )
    .await
    .unwrap();
    let receiving = || session.media().ingest.receiving().len();
    // Video tiles only: a camera is a placeholder card until its first
    // frame.
    let pictures = |n: usize| {
        let tiles = session.info().layout.tiles;
        tiles.len() == n && tiles.iter().all(|t| t.shows == "video")
    };

    // Bob stays throughout.
    let bob =
        SyntheticParticipant::join(&room.url(), ROOM, SynthSpec::demo(1), IceConfig::loopback())
            .await
            .unwrap();
    wait_for("Bob's two tracks and picture", || {
        receiving() == 2 && pictures(1)
    })
    .await;
    let baseline: PipelineCounts = session.media().counts();

    let mut thread_counts = Vec::new();
    for cycle in 0..6 {
        let alice = SyntheticParticipant::join(
            &room.url(),
            ROOM,
            SynthSpec::demo(0),
            IceConfig::loopback(),
        )
        .await
        .unwrap();
        wait_for("Alice's tracks and tile", || {
            receiving() == 4 && pictures(2)
        })
        .await;
        let with_alice = session.media().counts();
        assert!(
            with_alice.elements > baseline.elements,
            "cycle {cycle}: {with_alice:?} vs {baseline:?}"
        );

        alice.leave().await;
        wait_for("Alice's tracks and tile to go", || {
            receiving() == 2 && pictures(1)
        })
        .await;
        assert_eq!(session.info().peers.len(), 1);
        assert_eq!(
            session.media().counts(),
            baseline,
            "cycle {cycle}: elements or pads left behind"
        );
        // Let threads of finished tasks return to GStreamer's pool; the
        // program keeps running meanwhile (20 fps: about 10 frames).
        let frames = session.media().program_status().frames;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let advanced = session.media().program_status().frames - frames;
        assert!(
            advanced >= 5,
            "cycle {cycle}: the program stalled ({advanced} frames in 0.5 s)"
        );
        thread_counts.push(threads());
    }
    let (first, last) = (thread_counts[0], *thread_counts.last().unwrap());
    assert!(
        last <= first + 2,
        "threads grow with every join and leave: {thread_counts:?}"
    );
    session.stop().await;
    bob.leave().await;
    room.shutdown().await;
}
