import ArgumentParser
import Common
import Foundation
import SNN

/// The `neuromorph` command line: spiking simulation, ANN training, ANN -> SNN conversion and
/// comparison. Each subcommand only wires flags to the library and prints results.
@main
struct Neuromorph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neuromorph",
        abstract: "Spiking-network simulation, ANN training, ANN-to-SNN conversion and comparison.",
        discussion: """
            Output folders (--out) are written atomically and carry a .neuromorph-output marker; an existing \
            folder is replaced only if an earlier run of the same command wrote it and --force is given. \
            Usage errors exit with 2, failures with 1.
            """,
        version: "\(OutputPolicy.version) (\(VectorPath.summary))",
        subcommands: [SimulateCommand.self, TrainCommand.self, EvalCommand.self, ImportCommand.self, ConvertCommand.self, CompareCommand.self]
    )

    static func main() {
        ThreadPolicy.applyDefaults()
        do {
            try VectorPath.checkEnvironment()   // NM_ISA: a path this CPU lacks, or no path at all
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(2)   // a usage error, as neuromorph-run's
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let e = userFacing(error)
            if exitCode(for: e) == .validationFailure {
                // usage errors exit with 2 (as neuromorph-run and most Unix tools), not sysexits' 64
                FileHandle.standardError.write(Data((fullMessage(for: e) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: e)
        }
    }
}

/// Errors a command reports to the user (printed as "error: <message>", exit status 1).
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// One sentence for errors whose own description is a Foundation dump (CocoaError, EncodingError,
/// DecodingError); others pass unchanged.
func userFacing(_ error: Error) -> Error {
    switch error {
    case let e as CocoaError:
        let path = (e.userInfo[NSFilePathErrorKey] as? String) ?? e.userInfo[NSURLErrorKey].map { "\($0)" }
        return UserError("\(path.map { "\($0): " } ?? "")\(IOError.reason(e))")
    case let e as EncodingError:
        if case let .invalidValue(v, _) = e { return UserError("cannot write a JSON result: the value \(v) is not a finite number") }
        return UserError("cannot write a JSON result")
    case is DecodingError:
        return UserError("cannot read a JSON file: \((error as NSError).localizedDescription)")
    default:
        return error
    }
}

/// Runs `body`, turning library errors into one-line messages for the user.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as CleanExit { throw e } catch let e as UserError {
        throw e
    } catch let e as CocoaError {
        throw userFacing(e)
    } catch let e as EncodingError {
        throw userFacing(e)
    } catch let e as CustomStringConvertible {
        throw UserError(e.description)
    }
}
