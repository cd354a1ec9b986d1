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
        version: "0.1.0 (\(VectorPath.summary))",
        subcommands: [SimulateCommand.self, TrainCommand.self, EvalCommand.self, ConvertCommand.self, CompareCommand.self]
    )

    static func main() {
        ThreadPolicy.applyDefaults()
        do {
            try VectorPath.checkEnvironment()   // NM_ISA: a path this CPU lacks, or no path at all
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Errors a command reports to the user (printed as "error: <message>", exit status 1).
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs `body`, turning library errors into one-line messages for the user.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as CleanExit { throw e } catch let e as UserError {
        throw e
    } catch let e as CocoaError {
        throw UserError(e.localizedDescription + (e.userInfo[NSFilePathErrorKey].map { " (\($0))" } ?? ""))
    } catch let e as CustomStringConvertible {
        throw UserError(e.description)
    }
}
