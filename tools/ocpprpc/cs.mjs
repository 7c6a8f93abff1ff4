// A second central system, independent of PyPI `ocpp`: npm ocpp-rpc in strict mode validates every
// frame both ways with ajv over the official OCPP 1.6 JSON schemas (security extension included,
// formats such as date-time and uri checked). It answers the charge point, then calls 24 of the
// 26 actions a central system has (not Reset nor CertificateSigned), and asks the test (stdout
// {"car": ...}) to plug in, ask for power and leave.
// One JSON object per line on stdout: {"listening": port}, {"in": action, "params"},
// {"call": action, "params", "result"} or {"call", "error"}, {"strict": ...}, {"done": true}.
//     node cs.mjs PORT CLOSED_PORT
import rpc from 'ocpp-rpc';

const { RPCServer } = rpc;
const STEP_MS = 60000;          // the longest wait for one expected message from the charge point
const TX_ID = 4242;
const TAG = 'TAG1';
const CLOSED_PORT = Number(process.argv[3]);     // the test's: nothing listens there
const NOT_A_CERT = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const inOneHour = () => new Date(Date.now() + 3600e3).toISOString();
const waiters = [];             // [predicate, resolve]
const seen = [];

function received(method, params) {
  const m = { method, params };
  seen.push(m);
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i][0](m)) { waiters[i][1](m); waiters.splice(i, 1); }
  }
}

function waitFor(what, pred) {
  const old = seen.find(pred);
  if (old) return Promise.resolve(old);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for ' + what)), STEP_MS);
    waiters.push([pred, (m) => { clearTimeout(t); resolve(m); }]);
  });
}

const status = (s) => (m) => m.method === 'StatusNotification' && m.params.connectorId === 1 && m.params.status === s;

function answer(method, params) {
  received(method, params);
  say({ in: method, params });
  const now = new Date().toISOString();
  switch (method) {
    case 'BootNotification': return { status: 'Accepted', currentTime: now, interval: 300 };
    case 'Heartbeat': return { currentTime: now };
    case 'Authorize': return { idTagInfo: { status: 'Accepted', expiryDate: inOneHour() } };
    case 'StartTransaction': return { transactionId: TX_ID, idTagInfo: { status: 'Accepted' } };
    case 'StopTransaction': return { idTagInfo: { status: 'Accepted' } };
    case 'DataTransfer': return { status: 'UnknownVendorId' };
    case 'SignCertificate': return { status: 'Rejected' };
    default: return {};     // StatusNotification, MeterValues and the notifications: empty answers
  }
}

async function call(client, method, params) {
  try {
    const result = await client.call(method, params);
    say({ call: method, params, result });
    return result;
  } catch (e) {
    say({ call: method, params, error: e.rpcErrorCode || e.name, message: e.message });
    return null;
  }
}

function profile(id, amps, purpose, txId) {
  const p = { chargingProfileId: id, stackLevel: 1, chargingProfilePurpose: purpose, chargingProfileKind: 'Relative',
    chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: amps }] } };
  if (txId) p.transactionId = txId;
  if (purpose === 'TxDefaultProfile') {
    p.chargingProfileKind = 'Absolute';
    p.chargingSchedule.startSchedule = new Date(Date.now() - 60e3).toISOString();
  }
  return p;
}

const after = (n, pred) => (m) => pred(m) && seen.indexOf(m) >= n;   // a message after the n-th

async function script(client) {
  await waitFor('BootNotification', (m) => m.method === 'BootNotification');
  await waitFor('connector 1 Available', status('Available'));
  await call(client, 'GetConfiguration', {});
  await call(client, 'GetConfiguration', { key: ['HeartbeatInterval', 'NoSuchKey'] });
  await call(client, 'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '5' });
  await call(client, 'ChangeConfiguration', { key: 'NoSuchKey', value: '1' });
  await call(client, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: 'abc' });
  await call(client, 'GetLocalListVersion', {});
  await call(client, 'SendLocalList', { listVersion: 3, updateType: 'Full',
    localAuthorizationList: [{ idTag: TAG, idTagInfo: { status: 'Accepted', expiryDate: inOneHour() } }] });
  await call(client, 'GetLocalListVersion', {});
  await call(client, 'ClearCache', {});
  await call(client, 'DataTransfer', { vendorId: 'org.example', messageId: 'hello', data: 'x' });
  for (const requestedMessage of ['Heartbeat', 'StatusNotification', 'MeterValues', 'FirmwareStatusNotification',
    'DiagnosticsStatusNotification', 'BootNotification']) {
    await call(client, 'TriggerMessage', { requestedMessage, connectorId: 1 });
  }
  for (const requestedMessage of ['Heartbeat', 'StatusNotification', 'MeterValues', 'FirmwareStatusNotification',
    'LogStatusNotification']) {
    await call(client, 'ExtendedTriggerMessage', { requestedMessage });
  }
  await call(client, 'GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' });
  await call(client, 'InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: NOT_A_CERT });
  await call(client, 'DeleteCertificate', { certificateHashData: { hashAlgorithm: 'SHA256',
    issuerNameHash: 'a'.repeat(64), issuerKeyHash: 'b'.repeat(64), serialNumber: '01' } });
  await call(client, 'ReserveNow', { connectorId: 1, expiryDate: inOneHour(), idTag: TAG, reservationId: 7 });
  await call(client, 'CancelReservation', { reservationId: 7 });
  await call(client, 'SetChargingProfile', { connectorId: 0, csChargingProfiles: profile(11, 16, 'TxDefaultProfile') });
  await call(client, 'GetCompositeSchedule', { connectorId: 1, duration: 3600, chargingRateUnit: 'A' });
  await call(client, 'ClearChargingProfile', { id: 11 });

  say({ car: 'plug' });
  await waitFor('connector 1 Preparing', status('Preparing'));
  await call(client, 'RemoteStartTransaction', { connectorId: 1, idTag: TAG, chargingProfile: profile(12, 10, 'TxProfile') });
  await waitFor('StartTransaction', (m) => m.method === 'StartTransaction');
  say({ car: 'charge' });
  await waitFor('connector 1 Charging', status('Charging'));
  const samples = () => seen.filter((m) => m.method === 'MeterValues' && m.params.transactionId === TX_ID).length;
  const before = samples();
  await waitFor('two MeterValues of the transaction',
    () => samples() >= before + 2);
  await call(client, 'SetChargingProfile', { connectorId: 1, csChargingProfiles: profile(13, 8, 'TxProfile', TX_ID) });
  await call(client, 'GetCompositeSchedule', { connectorId: 1, duration: 600 });
  await call(client, 'TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 });
  await call(client, 'RemoteStopTransaction', { transactionId: TX_ID });
  await waitFor('StopTransaction', (m) => m.method === 'StopTransaction');
  say({ car: 'leave' });
  await waitFor('connector 1 Available again', after(seen.length, status('Available')));
  let n = seen.length;
  await call(client, 'ChangeAvailability', { connectorId: 0, type: 'Inoperative' });
  await waitFor('connector 1 Unavailable', after(n, status('Unavailable')));
  n = seen.length;
  await call(client, 'ChangeAvailability', { connectorId: 0, type: 'Operative' });
  await waitFor('connector 1 Available once more', after(n, status('Available')));
  await call(client, 'UnlockConnector', { connectorId: 1 });
  // after the session (its log has lines to send), transfers to a port where nothing listens:
  // each ends in its failure notification
  const now = new Date().toISOString();
  await call(client, 'GetDiagnostics', { location: 'ftp://127.0.0.1:' + CLOSED_PORT + '/diag/', retries: 0 });
  await waitFor('DiagnosticsStatusNotification UploadFailed',
    (m) => m.method === 'DiagnosticsStatusNotification' && m.params.status === 'UploadFailed');
  await call(client, 'GetLog', { logType: 'SecurityLog', requestId: 1, retries: 0,
    log: { remoteLocation: 'http://127.0.0.1:' + CLOSED_PORT + '/log/' } });
  await waitFor('LogStatusNotification UploadFailure',
    (m) => m.method === 'LogStatusNotification' && m.params.status === 'UploadFailure');
  await call(client, 'UpdateFirmware', { location: 'http://127.0.0.1:' + CLOSED_PORT + '/fw.bin', retrieveDate: now, retries: 0 });
  await waitFor('FirmwareStatusNotification DownloadFailed',
    (m) => m.method === 'FirmwareStatusNotification' && m.params.status === 'DownloadFailed');
  await call(client, 'SignedUpdateFirmware', { requestId: 2, retries: 0, firmware: {
    location: 'http://127.0.0.1:' + CLOSED_PORT + '/fw.bin', retrieveDateTime: now, signingCertificate: NOT_A_CERT,
    signature: 'AAAA' } });
}

const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });
server.on('client', (client) => {
  say({ connected: client.identity, protocol: client.protocol });
  client.on('strictValidationFailure', (f) => say({ strict: { method: f.method, outbound: f.outbound,
    isCall: f.isCall, params: f.params, error: String(f.error && f.error.message), details: f.error && f.error.details } }));
  client.handle(({ method, params }) => answer(method, params));
  script(client).then(() => say({ done: true }), (e) => say({ done: false, error: e.message }));
});
const port = Number(process.argv[2]);
await server.listen(port, '127.0.0.1');
say({ listening: port });
