#!/usr/bin/python3
"""s3server.py — a small S3-compatible server on loopback for tickpipe's tests.

It checks every request's AWS Signature Version 4 itself (hashlib/hmac, written from the
SigV4 specification, sharing nothing with tickpipe's signer): the credential and scope, the
signed headers (host, x-amz-date and x-amz-content-sha256 at least; x-amz-security-token when
--token is given), the payload hash against the body received, the date within 15 minutes,
and the signature; a mismatch is 403 SignatureDoesNotMatch.

Path-style requests (/bucket/key): PUT object; POST ?uploads, PUT ?partNumber&uploadId,
POST ?uploadId (complete), DELETE ?uploadId (abort); HEAD, GET and DELETE object; GET bucket
?list-type=2 (ListObjectsV2, prefix only). Objects live under DIR/objects/<bucket>/<key>,
multipart uploads under DIR/uploads/<id>/ — on disk, so a restarted server continues them.

  s3server.py --dir DIR --port-file F [--log F] [--token T] [--exit-after-parts N]
              [--exit-on-delete]

--exit-after-parts N: the process exits (no answer) when a part request arrives after N parts
were stored by this process — a server going away in the middle of an upload.
--exit-on-delete: the process exits (no answer) at the first DELETE of an object — a crash
between an upload and the deletes that follow it. --log appends one line per stored object,
part, completion, abort and deleted object.
"""
import argparse, datetime, hashlib, hmac, http.server, json, os, re, socketserver, sys, threading, uuid
from urllib.parse import quote, unquote

ACCESS, SECRET, REGION = "AKIDTICKPIPETEST", "tickpipe/test+secret/KEY", "us-east-1"

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log")
ap.add_argument("--token")
ap.add_argument("--exit-after-parts", type=int, default=-1)
ap.add_argument("--exit-on-delete", action="store_true")
args = ap.parse_args()
lock = threading.RLock()
parts_stored = 0


def log(line):
    if args.log:
        with lock, open(args.log, "a") as f:
            f.write(line + "\n")


def enc(s, safe):
    return quote(s, safe=safe)  # unreserved A-Za-z0-9-_.~ kept, upper-case %XX


def canonical_query(raw):
    items = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        items.append((enc(unquote(k), ""), enc(unquote(v), "")))
    return "&".join(f"{k}={v}" for k, v in sorted(items))


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", ctype="application/xml", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, msg=""):
        self.reply(status, f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{msg}</Message></Error>".encode())

    def verify(self, body):
        auth = self.headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?"
                         r"SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})", auth)
        if not m:
            return "malformed Authorization"
        ak, date, region, signed, sig = m.groups()
        if ak != ACCESS or region != REGION:
            return "unknown access key or region"
        names = signed.split(";")
        need = {"host", "x-amz-date", "x-amz-content-sha256"} | ({"x-amz-security-token"} if args.token else set())
        if not need <= set(names) or names != sorted(names):
            return f"signed headers {signed} miss some of {sorted(need)}"
        amz = self.headers.get("x-amz-date", "")
        try:
            t = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return "bad x-amz-date"
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900 or amz[:8] != date:
            return "x-amz-date too far from now"
        if args.token and self.headers.get("x-amz-security-token") != args.token:
            return "wrong session token"
        h = self.headers.get("x-amz-content-sha256", "")
        if h != "UNSIGNED-PAYLOAD" and h != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 does not match the body"
        path, _, query = self.path.partition("?")
        lines = [self.command, enc(unquote(path), "/"), canonical_query(query)]
        for n in names:
            vals = self.headers.get_all(n) or []
            lines.append(n + ":" + ",".join(" ".join(v.split()) for v in vals))
        creq = "\n".join(lines[:3]) + "\n" + "\n".join(lines[3:]) + "\n\n" + signed + "\n" + h
        scope = f"{date}/{region}/s3/aws4_request"
        sts = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        k = hm(hm(hm(hm(("AWS4" + SECRET).encode(), date), region), "s3"), "aws4_request")
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return "signature does not match"
        return None

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        why = self.verify(body)
        if why:
            log(f"denied {self.command} {self.path}: {why}")
            return self.error(403, "SignatureDoesNotMatch", why)
        path, _, query = self.path.partition("?")
        q = {}
        for part in query.split("&") if query else []:
            k, _, v = part.partition("=")
            q[unquote(k)] = unquote(v)
        segs = unquote(path).lstrip("/").split("/", 1)
        bucket, key = segs[0], (segs[1] if len(segs) > 1 else "")
        if not bucket or ".." in key.split("/"):
            return self.error(400, "InvalidRequest")
        obj = os.path.join(args.dir, "objects", bucket, key)
        c = self.command
        if c == "GET" and not key:
            pre = q.get("prefix", "")
            root = os.path.join(args.dir, "objects", bucket)
            out = []
            for d, _, files in os.walk(root):
                for f in files:
                    k = os.path.relpath(os.path.join(d, f), root)
                    if k.startswith(pre) and not f.endswith(".tmp"):
                        out.append((k, os.path.getsize(os.path.join(d, f))))
            xml = "".join(f"<Contents><Key>{k}</Key><Size>{s}</Size></Contents>" for k, s in sorted(out))
            return self.reply(200, f"<ListBucketResult><KeyCount>{len(out)}</KeyCount>{xml}</ListBucketResult>".encode())
        if c in ("GET", "HEAD"):
            if not os.path.isfile(obj):
                return self.error(404, "NoSuchKey")
            data = open(obj, "rb").read()
            return self.reply(200, data if c == "GET" else b"", "application/octet-stream",
                              {"Content-Length": str(len(data))} if c == "HEAD" else None)
        if c == "POST" and "uploads" in q:
            uid = uuid.uuid4().hex + "/x+y"  # characters that need encoding, as real ids have
            d = os.path.join(args.dir, "uploads", uid.replace("/", "_").replace("+", "-"))
            os.makedirs(d)
            json.dump({"bucket": bucket, "key": key}, open(os.path.join(d, "meta.json"), "w"))
            return self.reply(200, f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{uid}</UploadId></InitiateMultipartUploadResult>".encode())
        if "uploadId" in q:
            d = os.path.join(args.dir, "uploads", q["uploadId"].replace("/", "_").replace("+", "-"))
            if not os.path.isdir(d):
                return self.error(404, "NoSuchUpload")
            if c == "PUT" and "partNumber" in q:
                global parts_stored
                with lock:
                    if args.exit_after_parts >= 0 and parts_stored >= args.exit_after_parts:
                        log("exit")
                        os._exit(3)
                    parts_stored += 1
                pn = int(q["partNumber"])
                with open(os.path.join(d, f"part-{pn}.tmp"), "wb") as f:
                    f.write(body)
                os.rename(os.path.join(d, f"part-{pn}.tmp"), os.path.join(d, f"part-{pn}"))
                log(f"part {key} {pn} {len(body)}")
                return self.reply(200, headers={"ETag": '"' + hashlib.md5(body).hexdigest() + '"'})
            if c == "POST":
                listed = re.findall(r"<Part><PartNumber>(\d+)</PartNumber><ETag>([^<]*)</ETag></Part>", body.decode())
                nums = [int(p) for p, _ in listed]
                if not listed or nums != sorted(nums):
                    return self.error(400, "InvalidPartOrder")
                data = b""
                md5s = b""
                for p, etag in listed:
                    fp = os.path.join(d, f"part-{p}")
                    if not os.path.isfile(fp):
                        return self.error(400, "InvalidPart")
                    b = open(fp, "rb").read()
                    if etag.replace("&quot;", '"') != '"' + hashlib.md5(b).hexdigest() + '"':
                        return self.error(400, "InvalidPart", f"etag of part {p}")
                    data += b
                    md5s += hashlib.md5(b).digest()
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                with open(obj + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(obj + ".tmp", obj)
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
                os.rmdir(d)
                log(f"complete {key} {len(data)}")
                et = f"&quot;{hashlib.md5(md5s).hexdigest()}-{len(listed)}&quot;"
                return self.reply(200, f"<CompleteMultipartUploadResult><Key>{key}</Key><ETag>{et}</ETag></CompleteMultipartUploadResult>".encode())
            if c == "DELETE":
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
                os.rmdir(d)
                log(f"abort {key}")
                return self.reply(204)
        if c == "DELETE" and key:
            if args.exit_on_delete:
                log("exit")
                os._exit(3)
            existed = os.path.isfile(obj)
            if existed:
                os.unlink(obj)
            log(f"delete {key} {'existed' if existed else 'absent'}")
            return self.reply(204)
        if c == "PUT" and key:
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            with open(obj + ".tmp", "wb") as f:
                f.write(body)
            os.rename(obj + ".tmp", obj)
            log(f"put {key} {len(body)}")
            return self.reply(200, headers={"ETag": '"' + hashlib.md5(body).hexdigest() + '"'})
        return self.error(405, "MethodNotAllowed")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


os.makedirs(os.path.join(args.dir, "uploads"), exist_ok=True)
srv = Server(("127.0.0.1", 0), H)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
