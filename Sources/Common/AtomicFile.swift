import CCore
import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a temporary file in
/// the same folder, are flushed, and the temporary file is renamed over the destination (an atomic
/// `rename(2)` on POSIX file systems). On any error the temporary file is removed and the destination
/// is left as it was.
public enum AtomicFile {
    /// Writes `data` to `url` atomically, creating intermediate folders. The temporary file
    /// (`.NAME.tmp-PID-RAND`) is removed on SIGINT/SIGTERM/SIGHUP and swept by later output claims.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw IOError.cannotWrite(path: url.path, reason: "cannot create the folder \(dir.path) (\(IOError.reason(error)))")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let slot = nm_cleanup_register(tmp.path, 0)
        defer { nm_cleanup_unregister(slot) }
        do {
            try data.write(to: tmp, options: [])
            if rename(tmp.path, url.path) != 0 {
                throw IOError.cannotWrite(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch let e as IOError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw IOError.cannotWrite(path: url.path, reason: IOError.reason(error))
        }
    }

    /// Writes a UTF-8 string atomically.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }
}

/// File-level input/output errors that name the file and say what went wrong.
public enum IOError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .corrupt(path, reason): return "\(path) is not a valid file: \(reason)"
        }
    }

    /// A short reason for a Foundation or POSIX error ("No such file or directory", "Is a directory"),
    /// instead of Foundation's multi-line description.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let e = error as? CocoaError {
            switch e.code {
            case .fileNoSuchFile, .fileReadNoSuchFile: return "No such file or directory"
            case .fileWriteNoPermission, .fileReadNoPermission: return "Permission denied"
            case .fileWriteOutOfSpace: return "No space left on device"
            case .fileWriteVolumeReadOnly: return "Read-only file system"
            case .fileWriteFileExists: return "File exists"
            default: break
            }
        }
        return ns.localizedDescription
    }
}
