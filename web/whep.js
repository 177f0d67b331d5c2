// A WHEP player: offers to receive video and audio, posts the offer with
// every ICE candidate in it, and plays what comes back in `video`. The
// token (a viewer token for this session) goes as a bearer token, as WHEP
// says.

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', done);
    // Some candidates never finish gathering (unreachable STUN): go on.
    setTimeout(resolve, 3000);
  });
}

export async function play(video, whepUrl, token, onState) {
  const authorization = `Bearer ${token}`;
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
  });
  pc.addEventListener('connectionstatechange', () => onState(pc.connectionState));
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const resp = await fetch(whepUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization },
    body: pc.localDescription.sdp,
  });
  if (resp.status !== 201) {
    pc.close();
    let message = `HTTP ${resp.status}`;
    try { message = (await resp.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  const location = resp.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await resp.text() });
  await video.play().catch(() => { /* autoplay refused: the controls start it */ });
  return {
    async stop() {
      pc.close();
      video.srcObject = null;
      // keepalive: the DELETE still goes out when the page is closing.
      await fetch(location, { method: 'DELETE', headers: { authorization }, keepalive: true })
        .catch(() => {});
    },
  };
}
