// bench/run.sh's device token endpoint (njs, nginx's JavaScript module): answers
// authorization_pending to the first $poll_k polls of each device code, then the canned
// token response ($token_json), as RFC 8628 §3.5 describes.
//
// njs 0.7.9 (Debian 12) runs every request in a fresh copy of the script's VM: a global
// object (0.7.9 has no Map) forgets each count when the request ends, and njs before 0.8
// has no shared dictionary (js_shared_dict_zone). So the count lives in a file per device
// code under $poll_dir (on tmpfs): each poll appends one byte, and the file's size is the
// count. Appending first means the file always exists when it is looked at (a thrown
// ENOENT costs ~0.8 ms in njs). The file is removed when the token is issued, so only the
// codes of flows still pending stay. Cost in nginx's worker: ~32 µs per poll, against
// ~10 µs for a canned `return`.
import fs from 'fs';

function deviceCode(r) {
    const m = (r.requestText || '').match(/(?:^|&)device_code=([0-9A-Za-z_-]{1,128})(?:&|$)/);
    return m ? m[1] : null;
}

function poll(r) {
    const code = deviceCode(r);
    if (!code) {
        r.return(400, '{"error":"invalid_request","error_description":"no device_code"}');
        return;
    }
    const file = r.variables.poll_dir + '/' + code;
    fs.appendFileSync(file, '.');
    const polls = fs.statSync(file).size;
    if (polls <= Number(r.variables.poll_k)) {
        r.return(400, '{"error":"authorization_pending","error_description":"The authorization request is still pending"}');
        return;
    }
    fs.unlinkSync(file);
    r.return(200, r.variables.token_json);
}

export default { poll };
